import { Stack } from 'aws-cdk-lib';
import type { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';

/**
 * What Athena queries of the master dataset need (target `aws` only): the Glue table, the results bucket and one
 * workgroup per kind of query, each with its own scan cutoff.
 */
export interface MasterDatasetQueries {
  readonly databaseName: string;
  readonly tableName: string;
  readonly resultsBucket: IBucket;
  /** Batch windows' queries, stopped above `batchScanCutoffGiB`. Only in the Lambda architecture. */
  readonly batchWorkGroup?: CfnWorkGroup;
  /** Rebuilds' and replays' queries, stopped above `rebuildScanCutoffGiB`. */
  readonly rebuildWorkGroup: CfnWorkGroup;
}

/**
 * Lets a function run queries in one workgroup over the master dataset's Glue table and keep their results. Athena
 * and Glue have no grant methods: the statements are scoped to the workgroup, the database and the table.
 */
export function grantMasterDatasetQueries(fn: IFunction, queries: MasterDatasetQueries, workGroup: CfnWorkGroup): void {
  const stack = Stack.of(fn);
  queries.resultsBucket.grantReadWrite(fn);
  Grant.addToPrincipal({
    grantee: fn,
    actions: [
      'athena:StartQueryExecution',
      'athena:GetQueryExecution',
      'athena:GetQueryResults',
      'athena:StopQueryExecution',
    ],
    resourceArns: [stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: workGroup.name })],
  });
  Grant.addToPrincipal({
    grantee: fn,
    actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
    resourceArns: [
      stack.formatArn({ service: 'glue', resource: 'catalog' }),
      stack.formatArn({ service: 'glue', resource: 'database', resourceName: queries.databaseName }),
      stack.formatArn({
        service: 'glue',
        resource: 'table',
        resourceName: `${queries.databaseName}/${queries.tableName}`,
      }),
    ],
  });
}
