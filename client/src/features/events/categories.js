// The API has no list of categories; these are the ones organizers use.
export const CATEGORIES = ['music', 'tech', 'food', 'comedy', 'sports', 'arts', 'business', 'family', 'other'];

/** "music" → "Music". */
export const categoryLabel = (category) => category[0].toUpperCase() + category.slice(1);
