/**
 * `cortex-hub settings` and `cortex-hub settings set KEY=VALUE...`: the hub's settings (the
 * ones the UI's Settings view changes) from a shell, through the same `settings.get` and
 * `settings.set` operations. What each key accepts comes from the contract's schema itself, so
 * a setting added there is listed and settable here without a change to this file; the hub
 * checks every value again (the schema is the one judge).
 */
import { SettingsSchema, type Settings } from '../contract';
import { UsageError } from './args';
import { table } from './format';

type Kind = { type: 'boolean' } | { type: 'enum'; options: readonly string[] } | { type: 'number'; min: number; max: number };

/** What one setting accepts, read off the contract's schema. */
function kindOf(key: keyof Settings): Kind {
  const field = SettingsSchema.shape[key] as unknown as { type: string; options?: readonly string[]; minValue?: number | null; maxValue?: number | null };
  if (field.type === 'boolean') return { type: 'boolean' };
  if (field.type === 'enum') return { type: 'enum', options: field.options ?? [] };
  if (field.type === 'number') return { type: 'number', min: field.minValue ?? 0, max: field.maxValue ?? Number.MAX_SAFE_INTEGER };
  // A new kind of setting in the contract: say so plainly rather than guess how to parse it.
  throw new Error(`setting ${key}: the CLI cannot parse a ${field.type} yet`);
}

const KEYS = Object.keys(SettingsSchema.shape) as (keyof Settings)[];

function accepts(k: Kind): string {
  if (k.type === 'boolean') return 'true | false';
  if (k.type === 'enum') return k.options.join(' | ');
  return `${k.min}-${k.max}`;
}

/** The settings, for people: each key, its value, and what it accepts. */
export function settingsText(s: Settings): string {
  return [
    table([['SETTING', 'VALUE', 'ACCEPTS'], ...KEYS.map((k) => [k, String(s[k]), accepts(kindOf(k))])]),
    'Change with: cortex-hub settings set KEY=VALUE [KEY=VALUE...]',
  ].join('\n');
}

/**
 * `KEY=VALUE` arguments as a settings change. Throws UsageError naming the argument and what it
 * accepts: an unknown key, a value of the wrong kind, a key given twice, no `=`.
 */
export function parseAssignments(args: readonly string[]): Partial<Settings> {
  if (args.length === 0) throw new UsageError('usage: cortex-hub settings set KEY=VALUE [KEY=VALUE...] (the keys: cortex-hub settings)');
  const change: Record<string, boolean | number | string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`expected KEY=VALUE, got "${arg}"`);
    const key = arg.slice(0, eq);
    const text = arg.slice(eq + 1).trim();
    if (!(KEYS as string[]).includes(key)) throw new UsageError(`unknown setting "${key}"; the settings are: ${KEYS.join(', ')}`);
    if (key in change) throw new UsageError(`setting "${key}" given twice`);
    const kind = kindOf(key as keyof Settings);
    const bad = () => new UsageError(`${key} accepts ${accepts(kind)}, not "${text}"`);
    if (kind.type === 'boolean') {
      if (text !== 'true' && text !== 'false') throw bad();
      change[key] = text === 'true';
    } else if (kind.type === 'enum') {
      if (!kind.options.includes(text)) throw bad();
      change[key] = text;
    } else {
      const n = Number(text);
      if (!/^\d+$/.test(text) || n < kind.min || n > kind.max) throw bad();
      change[key] = n;
    }
  }
  return change as Partial<Settings>;
}

/** What a change did, for people: each key given, from what to what. */
export function changedText(before: Settings, after: Settings, change: Partial<Settings>): string {
  const lines = (Object.keys(change) as (keyof Settings)[]).map((k) => (before[k] === after[k] ? `${k}: ${String(after[k])} (unchanged)` : `${k}: ${String(before[k])} -> ${String(after[k])}`));
  return lines.join('\n');
}
