import { synthesize } from './stack-fixture';

/** Asset hashes change with every handler edit; the snapshot is about the infrastructure, so they are masked. */
function normalised(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}(\.zip)?/g, 'ASSET-HASH'));
}

describe('the whole stack', () => {
  it('matches its snapshot', () => {
    expect(normalised(synthesize().template.toJSON())).toMatchSnapshot();
  });
});
