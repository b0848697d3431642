package keyring

import "strconv"

// Cache is Lookup for many keyrings that share keys: the pull Secrets of many
// namespaces often differ only in their credentials, and what Lookup finds depends on
// the image and the entries' keys alone, so each image is read once per set of keys.
// The zero Cache is ready to use; it is not safe for concurrent use.
type Cache struct {
	found map[string]found // by image and keys (see cacheKey)
	key   []byte
}

// Lookup is Lookup(image, entries), from the cache when an image has been looked up
// in entries with the same keys, in the same order.
func (c *Cache) Lookup(image string, entries []Entry) (Result, error) {
	c.key = cacheKey(c.key[:0], image, entries)
	f, ok := c.found[string(c.key)]
	if !ok {
		f = findKeys(image, entries)
		if c.found == nil {
			c.found = map[string]found{}
		}
		c.found[string(c.key)] = f
	}
	return f.result(image, entries)
}

// cacheKey appends the image and the entries' keys to dst, each with its length before
// it, so that no two lists of keys give the same bytes.
func cacheKey(dst []byte, image string, entries []Entry) []byte {
	dst = strconv.AppendInt(dst, int64(len(image)), 10)
	dst = append(append(dst, ':'), image...)
	for _, e := range entries {
		dst = strconv.AppendInt(dst, int64(len(e.Key)), 10)
		dst = append(append(dst, ':'), e.Key...)
	}
	return dst
}
