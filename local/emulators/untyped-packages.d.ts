/**
 * The parts of dynalite and s3rver this harness uses; neither package ships type declarations.
 */

declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** How long tables stay CREATING / DELETING / UPDATING; dynalite defaults to 500 ms. */
    readonly createTableMs?: number;
    readonly deleteTableMs?: number;
    readonly updateTableMs?: number;
    /** LevelDB directory; in memory when absent. */
    readonly path?: string;
  }

  /** Returns an unstarted server; its close() also closes the database. */
  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}

declare module 's3rver' {
  import type { AddressInfo } from 'node:net';
  import type { ParsedUrlQuery } from 'node:querystring';

  interface S3rverOptions {
    readonly port: number;
    readonly address: string;
    readonly silent: boolean;
    /** Where buckets and objects live, as plain files. */
    readonly directory: string;
  }

  /** A Koa application. */
  class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware stack, composed when the server starts listening. */
    readonly middleware: S3rver.Middleware[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
  namespace S3rver {
    /** The subset of a Koa context the harness's own middleware touches. */
    interface Context {
      readonly method: string;
      readonly path: string;
      readonly headers: Readonly<Record<string, string | string[] | undefined>>;
      query: ParsedUrlQuery;
      body: unknown;
    }

    type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;
  }
  export = S3rver;
}

declare module 's3rver/lib/models/account' {
  /** The account every authenticated request maps to. */
  export const DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
}

declare module 's3rver/lib/models/error' {
  /** Rendered by s3rver as an S3 XML error response with the status S3 uses for `code`. */
  class S3Error extends Error {
    constructor(code: string, message: string, detail?: Readonly<Record<string, string>>);
  }
  export = S3Error;
}
