/** Response headers of the 202 answers that start work (rotations, heartbeats). */
export const ACCEPTED_HEADERS = (location: string) => ({
  Location: { description: `where to follow the work: ${location}`, schema: { type: 'string' } },
  'Idempotent-Replayed': {
    description: 'true when this answer is the work that already waited (a replayed Idempotency-Key, or a coalesced request)',
    schema: { type: 'string', enum: ['true'] },
  },
});
