import type S3rver from 's3rver';
import S3Error from 's3rver/lib/models/error';

/**
 * s3rver stores a body sent with `aws-chunked` content encoding verbatim, chunk headers and trailing checksum
 * included, and answers 200: the object is silently corrupt. SDK v3 sends streamed bodies that way unless the
 * client has `requestChecksumCalculation: 'WHEN_REQUIRED'` (or AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED),
 * so such uploads are refused with an error that says how to fix the client.
 */
export const rejectAwsChunkedUploads: S3rver.Middleware = async (ctx, next) => {
  const contentSha256 = ctx.headers['x-amz-content-sha256'];
  if ((ctx.method === 'PUT' || ctx.method === 'POST') && String(contentSha256 ?? '').startsWith('STREAMING-')) {
    throw new S3Error(
      'NotImplemented',
      'The S3 emulator (s3rver) cannot decode aws-chunked uploads. Configure the S3 client with ' +
        "requestChecksumCalculation: 'WHEN_REQUIRED' or set AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED.",
      { Header: 'x-amz-content-sha256' },
    );
  }
  return next();
};
