// Lua script definitions with named KEYS and ARGV: the script reads locals, the store passes an object,
// and both follow one declared list, so no argument is read by position by hand.

/** An argument name; `#name` declares a number (the script gets `tonumber(ARGV[i])`). */
type ArgName<T extends string> = T extends `#${infer N}` ? N : T;

/** A Lua script for ioredis `defineCommand`, with the names of its keys and arguments. */
export interface LuaScript<K extends string = string, A extends string = string> {
  /** KEYS, in order; the script sees each as a local of that name. */
  readonly keys: readonly K[];
  /** ARGV, in order; the script sees each as a local of that name. */
  readonly args: readonly A[];
  /** Whether ARGV goes on past `args`: the script sees the remainder as the table `rest`. */
  readonly rest: boolean;
  readonly numberOfKeys: number;
  readonly lua: string;
}

/** What a call of script `S` is given: each key and argument by name. */
export type ScriptInput<S extends LuaScript> =
  S extends LuaScript<infer K, infer A> ? Record<K | A, string | number> : never;

/**
 * Define a script whose body reads KEYS and ARGV as named locals (declared in the order given).
 *
 * @example defineScript({ keys: ['grantKey'], args: ['jti'], body: "redis.call('HSET', grantKey, 'x:' .. jti, '1')" })
 */
export function defineScript<const K extends string, const A extends string>(spec: {
  keys: readonly K[];
  args?: readonly A[];
  rest?: boolean;
  /** Lua local functions the body calls; they come first, so they see no KEYS/ARGV locals. */
  functions?: readonly string[];
  body: string;
}): LuaScript<K, ArgName<A>> {
  const rawArgs = spec.args ?? [];
  const args = rawArgs.map((a) => a.replace(/^#/, '') as ArgName<A>);
  const lines = (spec.functions ?? []).map((f) => f.trim());
  spec.keys.forEach((k, i) => {
    lines.push(`local ${k} = KEYS[${i + 1}]`);
  });
  rawArgs.forEach((a, i) => {
    const name = args[i] as string;
    lines.push(
      `local ${name} = ${a.startsWith('#') ? `tonumber(ARGV[${i + 1}])` : `ARGV[${i + 1}]`}`,
    );
  });
  if (spec.rest) lines.push(`local rest = {unpack(ARGV, ${args.length + 1})}`);
  lines.push(spec.body.trim());
  return {
    keys: spec.keys,
    args,
    rest: spec.rest === true,
    numberOfKeys: spec.keys.length,
    lua: `${lines.join('\n')}\n`,
  };
}

/** Items of a Lua list, wrapped into lines of at most 100 characters when they do not fit on one. */
export function luaList(items: readonly string[], indent = '  '): string {
  if (items.join(', ').length <= 72) return items.join(', ');
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line && line.length + item.length + 2 > 96) {
      lines.push(`${line},`);
      line = item;
    } else line = line ? `${line}, ${item}` : item;
  }
  lines.push(line);
  return `\n${indent}  ${lines.join(`\n${indent}  `)}\n${indent}`;
}

/** The argument list of one call: keys, then arguments, in the script's declared order, then `rest`. */
export function scriptArgs<S extends LuaScript>(
  script: S,
  input: ScriptInput<S>,
  rest: readonly (string | number)[] = [],
): (string | number)[] {
  const byName = input as Record<string, string | number>;
  const out: (string | number)[] = [];
  for (const k of script.keys) out.push(byName[k] as string | number);
  for (const a of script.args) out.push(byName[a] as string | number);
  if (rest.length > 0) out.push(...rest);
  return out;
}

/** A Lua string literal. */
export const luaQuote = (s: string) => `'${s.replace(/[\\']/g, '\\$&')}'`;

/**
 * Lua: `local <name>` set to `{ [alias] = value, ... }` from one HMGET of `key`. `fields` are field
 * names (the alias is the name) or `[alias, Lua expression of the field name]`.
 *
 * @example luaHmget('s', 'grantKey', ['rev', ['x', "'x:' .. jti"]])
 */
export function luaHmget(
  name: string,
  key: string,
  fields: readonly (string | readonly [alias: string, expr: string])[],
): string {
  const pairs = fields.map((f) => (typeof f === 'string' ? ([f, luaQuote(f)] as const) : f));
  const ask = luaList(["'HMGET'", key, ...pairs.map(([, expr]) => expr)]);
  const fill = luaList(pairs.map(([alias], i) => `[${luaQuote(alias)}] = v[${i + 1}]`));
  return `local ${name}
do
  local v = redis.call(${ask})
  ${name} = {${fill}}
end`;
}
