import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * The SDK clients every handler and the local runtime use. Endpoints are never set in code: the SDK reads
 * AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (MiniStack injects the first; tests and the local runtime set
 * the per-service ones), so the same code runs against AWS and against emulators.
 */
export interface ClientOptions {
  /** Overrides for tests and the local runtime; in Lambda the defaults apply. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  readonly maxAttempts?: number;
}

export function createDynamoDbClient(options: ClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({ ...options });
}

/**
 * Kinesis gets the HTTP/1.1 handler: the SDK's default HTTP/2 handler exists for SubscribeToShard, which this
 * project does not use, and kinesis-local's plain port does not speak HTTP/2.
 */
export function createKinesisClient(options: ClientOptions = {}): KinesisClient {
  return new KinesisClient({ ...options, requestHandler: new NodeHttpHandler() });
}

/**
 * Path-style addressing when S3_FORCE_PATH_STYLE=true: emulators on 127.0.0.1 have no per-bucket host names.
 */
export function createS3Client(options: ClientOptions & { readonly forcePathStyle?: boolean } = {}): S3Client {
  return new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true', ...options });
}

export function createAthenaClient(options: ClientOptions = {}): AthenaClient {
  return new AthenaClient({ ...options });
}

export function createLambdaClient(options: ClientOptions = {}): LambdaClient {
  return new LambdaClient({ ...options });
}

export function createEventBridgeClient(options: ClientOptions = {}): EventBridgeClient {
  return new EventBridgeClient({ ...options });
}
