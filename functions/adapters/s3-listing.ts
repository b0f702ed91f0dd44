import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** Every non-empty object key under a prefix, sorted (S3 lists in key order; the sort makes that explicit). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: continuationToken }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key !== undefined && !object.Key.endsWith('/') && object.Size !== 0) keys.push(object.Key);
    }
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
  return keys.sort();
}
