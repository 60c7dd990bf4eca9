// The API key: from the environment, the config's key file or the systemd credential, checked
// for who can read it, and registered as a secret before anyone sees it.
import path from 'node:path';
import { withSmallFile } from './config-file.js';
import { ConfigError } from './errors.js';
import { isAbsent } from './file-errors.js';
import { registerSecret } from './log.js';
import { shellWord } from './escape.js';

/** The systemd credential name the unit loads the key under. */
export const CREDENTIAL_NAME = 'anthropic-api-key';

/** Where a key came from, as the messages name it. */
type KeySource = 'api.keyFile' | 'systemd credential';

/**
 * Reads a key file, refused when others can read it or another user owns it (a systemd credential is
 * exempt: its directory is systemd's), not a regular file, or empty.
 */
function readKeyFile(file: string, source: KeySource): string {
  const key = withSmallFile(file, `the API key (${source})`, ({ stats, read }) => {
    // As ssh does with a private key: a key others can read is as good as leaked. A systemd
    // credential is exempt: systemd writes it 0400 and opens it to the service user with an ACL,
    // whose mask shows in the group bits (0440); its directory is systemd's to protect.
    if (source === 'api.keyFile' && (stats.mode & 0o077) !== 0) {
      throw new ConfigError(
        `the API key file (api.keyFile) ${file} is readable by group or others (mode ${(stats.mode & 0o777).toString(8)}): run "chmod 600 ${shellWord(file)}"`,
      );
    }
    // Whoever owns the file chooses the key, and so the workspace the folder is uploaded into.
    const uid = process.getuid?.();
    if (source === 'api.keyFile' && uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
      throw new ConfigError(
        `the API key file (api.keyFile) ${file} is owned by uid ${stats.uid}: files-sync takes a key only from a file of its own user (uid ${uid}) or root, since the key chooses the workspace the folder is uploaded into; if it is yours, chown ${uid} ${shellWord(file)}`,
      );
    }
    return read().trim();
  });
  if (!key) throw new ConfigError(`the API key (${source}) ${file} is empty`);
  return key;
}

/**
 * The API key: `ANTHROPIC_API_KEY`, else `api.keyFile`, else the systemd credential
 * `$CREDENTIALS_DIRECTORY/anthropic-api-key`. Never from the command line; registered as a
 * secret so that no log line can carry it.
 */
export function readApiKey(keyFile: string | undefined, env: NodeJS.ProcessEnv): string {
  let key: string | undefined = env.ANTHROPIC_API_KEY?.trim() || undefined;
  if (!key && keyFile) key = readKeyFile(keyFile, 'api.keyFile');
  if (!key && env.CREDENTIALS_DIRECTORY) {
    const credential = path.join(env.CREDENTIALS_DIRECTORY, CREDENTIAL_NAME);
    // One that cannot be looked at (EACCES) is read, and its error said, not taken for none.
    if (!isAbsent(credential)) key = readKeyFile(credential, 'systemd credential');
  }
  if (!key) {
    throw new ConfigError('no API key: set ANTHROPIC_API_KEY, or "api.keyFile" in the config, or the systemd credential anthropic-api-key');
  }
  registerSecret(key);
  return key;
}
