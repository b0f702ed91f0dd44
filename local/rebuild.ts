/**
 * `npm run rebuild -- --view NAME [--url http://127.0.0.1:3000 | --stack NAME]`: recomputes a view's batch base
 * from the master dataset (after a bug fix or a declaration change, or to compact its windows) and flips to it;
 * the windows after the base go on meanwhile. See rebuild-command.ts for the options.
 */
import { runRebuildCommand } from './rebuild-command';

runRebuildCommand('batch');
