/** CSS colours for colour names (the fashion catalogue's, and any CSS knows), for the swatch beside each result. */
const COLOURS: Readonly<Record<string, string>> = {
  black: '#1f1f1f',
  white: '#ffffff',
  blue: '#2f6fd6',
  brown: '#7a4b2a',
  grey: '#8e8e93',
  red: '#d0312d',
  green: '#2e8b57',
  pink: '#f08db4',
  'navy blue': '#1f2f5c',
  purple: '#7b3fb0',
  silver: '#c0c0c6',
  yellow: '#f4c430',
  beige: '#e3d3b4',
  gold: '#c9a233',
  maroon: '#7a1f2b',
  orange: '#f28c28',
  olive: '#6b6b2a',
  cream: '#f6ecd2',
  steel: '#7b8a97',
  charcoal: '#3b3f44',
  peach: '#f6b99b',
  'off white': '#f4f1e8',
  skin: '#e8b995',
  lavender: '#b9a7e0',
  'grey melange': '#a6a6a6',
  khaki: '#b8a86e',
  magenta: '#c2185b',
  teal: '#167d7f',
  tan: '#c69c6d',
  mustard: '#d4a017',
  bronze: '#a8692c',
  copper: '#b7653a',
  'turquoise blue': '#2ab3c4',
  rust: '#b7410e',
  burgundy: '#7c1c3a',
  metallic: '#a9acb6',
  'coffee brown': '#5a3a22',
  mauve: '#b784a7',
  rose: '#e8879c',
  nude: '#e3bc9a',
  'sea green': '#3a9d7a',
  'mushroom brown': '#9b8468',
  taupe: '#8b7d6b',
  'lime green': '#7fcf3a',
  'fluorescent green': '#4ef037',
};

/** The swatch colour of a colour name, 'multi' for several, undefined when unknown. */
export function swatchColour(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const key = name.trim().toLowerCase();
  if (key === 'multi' || key === 'multicolour' || key === 'multicolor') return 'multi';
  const known = COLOURS[key];
  if (known) return known;
  // Other catalogues' colour names: whatever the browser knows ("navy", "teal", "#1f2f5c").
  const css = key.replaceAll(' ', '');
  return typeof CSS !== 'undefined' && /^[a-z]+$|^#[0-9a-f]{3,8}$/.test(css) && CSS.supports('color', css)
    ? css
    : undefined;
}
