// How the report writes numbers.

/** 12345.6 → `12,346`. */
export const formatInteger = (value: number): string => Math.round(value).toLocaleString('en-US');
export const formatRatio = (value: number): string => value.toFixed(2);
export const formatMicros = (value: number): string => value.toFixed(2);
export const formatMillis = (value: number): string => value.toFixed(2);
/** Bytes in MiB, one decimal. */
export const formatMiB = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** 32 → `32 B`, 65536 → `64 KiB`. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** `1 run`, `3 runs`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
