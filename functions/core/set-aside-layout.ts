/**
 * Where set-aside records go in the master dataset's bucket: outside `events/`, so that no engine reads them as
 * part of the master dataset. The stack grants the speed layer writes under it and nothing else of the bucket.
 */
export const SET_ASIDE_PREFIX = 'set-aside/';
