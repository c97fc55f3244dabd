/** "AKIA…WXYZ": enough to tell keys apart in a message, not enough to use or guess one. */
export function maskKeyId(accessKeyId: string): string {
  return accessKeyId.length > 8 ? `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}` : '…';
}
