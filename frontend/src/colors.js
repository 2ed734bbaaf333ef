// A person keeps one colour everywhere (every tab, every document): it is derived from the name.
const PALETTE = [
  '#e03131', '#c2255c', '#9c36b5', '#6741d9', '#3b5bdb', '#1971c2',
  '#0c8599', '#099268', '#2f9e44', '#e8590c', '#f08c00', '#5c940d',
]

export function colorFor (name) {
  let hash = 0
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0
  return PALETTE[hash % PALETTE.length]
}
