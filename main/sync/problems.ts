/**
 * Why a change could not be applied, in words a person can act on: shared by the hub (a node's
 * change into the mirror) and the node (a hub change into the workspace).
 */

/** What a person reads for an errno, and whether trying again can help by itself. */
const ERRNO: Record<string, { code: string; reason: string; retry: boolean }> = {
  ENOSPC: { code: 'DISK_FULL', reason: 'no space left on the device', retry: true },
  EDQUOT: { code: 'DISK_FULL', reason: 'disk quota exceeded', retry: true },
  EACCES: { code: 'PERMISSION_DENIED', reason: 'permission denied', retry: true },
  EPERM: { code: 'PERMISSION_DENIED', reason: 'operation not permitted', retry: true },
  EROFS: { code: 'READ_ONLY', reason: 'the file system is read-only', retry: true },
  EIO: { code: 'IO_ERROR', reason: 'input/output error', retry: true },
  EMFILE: { code: 'TOO_MANY_FILES', reason: 'too many open files', retry: true },
  ENFILE: { code: 'TOO_MANY_FILES', reason: 'too many open files in the system', retry: true },
  ENAMETOOLONG: { code: 'NAME_TOO_LONG', reason: 'the name is too long for this file system', retry: false },
  EILSEQ: { code: 'BAD_NAME', reason: 'the file system cannot hold this name', retry: false },
};

/** Classifies an errno failure (undefined: not an errno). `where` names the side: "the hub's disk". */
export function errnoProblem(err: unknown, where: string): { code: string; reason: string; retry: boolean } | undefined {
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  const known = errno ? ERRNO[errno] : undefined;
  if (!known) return undefined;
  return { code: known.code, reason: `${where}: ${known.reason} (${(err as Error).message})`, retry: known.retry };
}
