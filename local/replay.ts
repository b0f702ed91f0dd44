/**
 * `npm run replay -- --view NAME [--url http://127.0.0.1:3000 | --stack NAME]`: rebuilds a view from the master
 * dataset into a new realtime generation and flips to it (Kappa mode; in Lambda mode, a view that should not wait
 * for the batch layer). See rebuild-command.ts for the options.
 */
import { runRebuildCommand } from './rebuild-command';

runRebuildCommand('realtime');
