import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestValidator,
  RestApi,
  type IApiKey,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../functions/core/pipeline-config';
import { PipelineFunction } from './pipeline-function';

export interface ServingLayerProps {
  readonly pipeline: PipelineConfig;
  readonly realtimeTable: ITable;
  readonly batchTable: ITable;
  readonly manifestTable: ITable;
  /** The key directory, which group-by, top-N and GET /views/{view}/keys read (Query only). */
  readonly keyDirectoryTable: ITable;
  /**
   * The anomalies table, when a view declares a baseline: GET /views/{view}/anomalies lists it (Query only), and
   * GET /views/{view}/forecast is served beside it.
   */
  readonly anomalyTable?: ITable;
  readonly ingestFunction: IFunction;
  readonly removalPolicy: RemovalPolicy;
  /** Steady-state requests per second across the API. @default 100 */
  readonly rateLimit?: number;
  /** @default 200 */
  readonly burstLimit?: number;
}

/**
 * The serving layer: a REST API (API Gateway v1, which the LocalStack free tier has) with API-key auth, a usage
 * plan with throttling, request validation, access logs and X-Ray, in front of the query and ingest functions.
 */
export class ServingLayer extends Construct {
  readonly api: RestApi;
  readonly apiKey: IApiKey;
  readonly queryFunction: PipelineFunction;

  constructor(scope: Construct, id: string, props: ServingLayerProps) {
    super(scope, id);
    this.queryFunction = new PipelineFunction(this, 'Query', {
      entry: 'serving/handler.ts',
      service: 'serving',
      pipeline: props.pipeline,
      environment: {
        REALTIME_TABLE: props.realtimeTable.tableName,
        BATCH_TABLE: props.batchTable.tableName,
        MANIFEST_TABLE: props.manifestTable.tableName,
        KEY_DIRECTORY_TABLE: props.keyDirectoryTable.tableName,
        ...(props.anomalyTable === undefined ? {} : { ANOMALY_TABLE: props.anomalyTable.tableName }),
      },
    });
    for (const table of [props.realtimeTable, props.batchTable, props.manifestTable])
      table.grantReadData(this.queryFunction);
    // The directory is only ever listed, a Query on a view's partition: no Scan, no item reads.
    props.keyDirectoryTable.grant(this.queryFunction, 'dynamodb:Query');
    // A view's anomalies are one Query on its partition (functions/adapters/anomaly-store.ts): nothing else.
    props.anomalyTable?.grant(this.queryFunction, 'dynamodb:Query');

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    this.api = new RestApi(this, 'Api', {
      description:
        'Lambda architecture: POST /events, GET /views, GET /views/{view}/keys' +
        (props.anomalyTable === undefined ? '' : ', GET /views/{view}/anomalies, GET /views/{view}/forecast'),
      apiKeySourceType: ApiKeySourceType.HEADER,
      cloudWatchRole: true,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: props.rateLimit ?? 100,
        throttlingBurstLimit: props.burstLimit ?? 200,
      },
    });
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const query = new LambdaIntegration(this.queryFunction);
    const options = { apiKeyRequired: true, requestValidator: validator };
    this.api.root.addResource('events').addMethod('POST', new LambdaIntegration(props.ingestFunction), options);
    const views = this.api.root.addResource('views');
    views.addMethod('GET', query, options);
    const view = views.addResource('{view}');
    const viewPath = { ...options, requestParameters: { 'method.request.path.view': true } };
    view.addMethod('GET', query, viewPath);
    view.addResource('keys').addMethod('GET', query, viewPath);
    if (props.anomalyTable !== undefined) {
      view.addResource('anomalies').addMethod('GET', query, viewPath);
      view.addResource('forecast').addMethod('GET', query, viewPath);
    }
    this.api.root.addResource('openapi.json').addMethod('GET', query, options);

    this.apiKey = this.api.addApiKey('Key', { description: 'The key to call the API with (header x-api-key)' });
    const plan = this.api.addUsagePlan('Plan', {
      throttle: { rateLimit: props.rateLimit ?? 100, burstLimit: props.burstLimit ?? 200 },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    plan.addApiKey(this.apiKey);
  }
}
