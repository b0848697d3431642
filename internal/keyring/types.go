package keyring

// Entry is one credential entry as written in a source.
type Entry struct {
	Key      string // the registry key exactly as written, e.g. "https://index.docker.io/v1/"
	Username string
	// Password is secret: String, GoString, Format and LogValue redact it, and it is
	// left out of JSON.
	Password string `json:"-"`
	Source   string // where it came from: "ns/name" of a Secret, or a file path
}

// Match is a credential the kubelet would try.
type Match struct {
	Entry
	NormalizedKey string // the key as the kubelet normalizes it ("index.docker.io", "reg.example.com/team")
	Fallback      bool   // matched only through the Docker Hub fallback to "index.docker.io"
}

// NearMiss is a key that does not match the image but looks meant for it.
type NearMiss struct {
	Key    string // as written
	Source string
	Reason string // one sentence a user understands, e.g. `key has no port but the image is on port 5000`
}

// Result is the answer for one image.
type Result struct {
	Image      string     // as given
	Repository string     // normalized, as the kubelet looks it up: "docker.io/library/nginx"
	Matches    []Match    // in the kubelet's order; empty (non-nil) when none
	NearMisses []NearMiss // in entry order; empty (non-nil) when none
}
