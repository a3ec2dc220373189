// The API has no list of categories; these are the ones organizers use.
export const CATEGORIES = ['music', 'tech', 'food', 'comedy', 'sports', 'arts', 'business', 'family', 'other'];
