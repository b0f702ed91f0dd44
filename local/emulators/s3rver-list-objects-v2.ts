import type S3rver from 's3rver';
import S3Error from 's3rver/lib/models/error';

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) no longer offers, so
 * every truncated ListObjectsV2 page fails with a 500 (ERR_OSSL_EVP_UNSUPPORTED). This middleware answers
 * ListObjectsV2 through s3rver's V1 listing, which pages by plain marker, and converts the request and the response
 * between the two versions; the token is the bucket and the last key returned, in base64url. Listing semantics are
 * otherwise s3rver's own (KeyCount counts keys only; a page ends at its last key, not at a common prefix).
 *
 * It must sit after s3rver's XML encoder, where the response body is still an object, and before its router.
 */
export const listObjectsV2WithoutDes: S3rver.Middleware = async (ctx, next) => {
  const query = ctx.query;
  if (ctx.method !== 'GET' || query['list-type'] !== '2') return next();

  const bucket = ctx.path.split('/')[1] ?? '';
  const token = single(query['continuation-token']);
  const startAfter = single(query['start-after']);
  const fetchOwner = query['fetch-owner'] === 'true';
  const marker = token === undefined ? startAfter : keyFromToken(token, bucket);

  const v1Query = { ...query };
  delete v1Query['list-type'];
  delete v1Query['continuation-token'];
  delete v1Query['start-after'];
  delete v1Query['fetch-owner'];
  if (marker !== undefined && marker !== '') v1Query.marker = marker;
  ctx.query = v1Query;

  await next();
  ctx.body = toV2Body(ctx, { bucket, token, startAfter, fetchOwner });
};

interface V2Request {
  readonly bucket: string;
  readonly token: string | undefined;
  readonly startAfter: string | undefined;
  readonly fetchOwner: boolean;
}

function toV2Body(ctx: S3rver.Context, request: V2Request): unknown {
  const result = isRecord(ctx.body) ? ctx.body.ListBucketResult : undefined;
  if (!isRecord(result)) return ctx.body;
  const { Marker: _marker, NextMarker: _nextMarker, MaxKeys, Delimiter, IsTruncated, Contents, ...head } = result;
  const objects = (Array.isArray(Contents) ? Contents : []).filter(isRecord);
  const lastKey = objects.at(-1)?.Key;
  return {
    ListBucketResult: {
      ...head,
      StartAfter: request.token === undefined ? request.startAfter : undefined,
      ContinuationToken: request.token,
      NextContinuationToken:
        IsTruncated === true && typeof lastKey === 'string' ? tokenFor(request.bucket, lastKey) : undefined,
      KeyCount: objects.length,
      MaxKeys,
      Delimiter,
      IsTruncated,
      // V1 always names the owner; V2 only when asked to.
      Contents: request.fetchOwner ? objects : objects.map(({ Owner: _owner, ...object }) => object),
    },
  };
}

function tokenFor(bucket: string, key: string): string {
  return Buffer.from(JSON.stringify([bucket, key])).toString('base64url');
}

function keyFromToken(token: string, bucket: string): string {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded[0] === bucket && typeof decoded[1] === 'string') return decoded[1];
  } catch {
    // Falls through to the error S3 gives for a token it did not issue.
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    ArgumentName: 'continuation-token',
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
