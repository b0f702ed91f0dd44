import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Settings for any SDK v3 client (DynamoDB, Kinesis, S3) talking to one of these emulators. Options a client does
 * not know are ignored by it, so one shape serves all three.
 */
export interface EmulatorClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** HTTP/1.1: the Kinesis client defaults to HTTP/2, which kinesis-local's plain port does not speak. */
  readonly requestHandler: NodeHttpHandler;
  /** S3 only: the emulator has no per-bucket host names on 127.0.0.1. */
  readonly forcePathStyle: boolean;
  /**
   * S3 only: by default the SDK uploads stream bodies as `aws-chunked` with a trailing checksum, which s3rver does
   * not decode (it would store the chunk framing as the object); the S3 emulator rejects such uploads instead.
   */
  readonly requestChecksumCalculation: 'WHEN_REQUIRED';
  readonly responseChecksumValidation: 'WHEN_REQUIRED';
}

/**
 * dynalite and kinesis-local accept any credentials; s3rver knows only the keys registered with it, and startS3
 * registers these.
 */
export const emulatorCredentials = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

export function emulatorClientConfig(endpoint: string): EmulatorClientConfig {
  return {
    endpoint,
    // kinesis-local builds stream ARNs from its own AWS_REGION, which startKinesis pins to this region.
    region: 'us-east-1',
    credentials: emulatorCredentials,
    requestHandler: new NodeHttpHandler(),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}
