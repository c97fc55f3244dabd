export const QUEUE = 'x';
