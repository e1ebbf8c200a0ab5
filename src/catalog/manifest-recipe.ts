import { parseRecipe, type Recipe } from '../compose/recipe.js';

/**
 * The recipe of "this DASH manifest as one progressive file": its best video and best
 * audio, or the representations named.
 */
export function manifestRecipe(manifest: string, pick: { video?: string | null; audio?: string | null } = {}): Recipe {
  const track = (kind: 'video' | 'audio') => {
    const rep = pick[kind];
    return rep ? { source: manifest, representation: rep } : { source: manifest, kind };
  };
  return parseRecipe({ tracks: [track('video'), track('audio')] });
}
