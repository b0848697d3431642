package doctor

import (
	"context"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// Pods are read from their protobuf pages without decoding what the checks do not
// read: a pod none of whose containers waits is decoded from the fields below alone,
// and only a pod some container of which waits, or has no status yet, is decoded
// whole (but for its managed fields and kubectl's last-applied copy). A kubelet-managed
// pod is about 3 kB of protobuf (a page of 5,000, some 14 MB before compression);
// decoded whole, with managed fields, ten times that, almost all of it read by nothing.

// fields says which fields of a protobuf message to keep: a field absent is dropped, a
// field mapped to nil is kept whole, a field mapped to fields is a message kept in part.
type fields map[protowire.Number]fields

// Field numbers are those of k8s.io/api/core/v1 and k8s.io/apimachinery's meta/v1
// generated.proto.
var (
	// name, image, imagePullPolicy (Container and EphemeralContainerCommon alike)
	containerFields = fields{1: nil, 2: nil, 14: nil}
	// name, state, ready
	containerStatusFields = fields{1: nil, 2: nil, 4: nil}
	// runningPodFields are what the checks read of a pod none of whose containers
	// waits: where its images run, with which pull Secrets, and who owns it.
	runningPodFields = fields{
		// metadata: name, namespace, uid, labels, ownerReferences
		1: {1: nil, 3: nil, 5: nil, 11: nil, 13: nil},
		// spec: initContainers, containers, ephemeralContainers (their
		// ephemeralContainerCommon), serviceAccountName, nodeName, imagePullSecrets
		2: {20: containerFields, 2: containerFields, 34: {1: containerFields}, 8: nil, 10: nil, 15: nil},
		// status: phase, initContainerStatuses, containerStatuses, ephemeralContainerStatuses
		3: {1: nil, 10: containerStatusFields, 8: containerStatusFields, 13: containerStatusFields},
	}
)

const protobufType = "application/vnd.kubernetes.protobuf"

// pageSize is the items a list request asks for. The API server serves the pages
// of a list from its watch cache, and for each page it first collects every item
// after the continue token, not just a page of them: a list of n items in pages of
// p costs it about n²/2p items visited. At 50,000 pods, pages of 500 cost the API
// server 3.4 s of CPU per doctor run, pages of 5,000 1.6 s. A page is decoded as
// it streams in (see listPods), never held whole.
var pageSize int64 = 5000 // a variable for the tests of paging

// listPods lists the pods of the scope, pageSize a page as protobuf, counting the
// requests, and gives each to each as it is decoded, with whether it was kept whole.
// A page is decoded as it arrives, one pod at a time (see readList). The next page is
// asked for as soon as a page's list metadata, which comes first, gives its continue
// token: the API server encodes that page while this one still arrives, and what it
// has sent before this one is read waits in the connection's flow-control window. A
// continue token that expired (the list took longer than the API server keeps one) is
// an error: listing everything again in one request would hold every pod at once.
func (s *Snapshot) listPods(ctx context.Context, rc rest.Interface, scope Scope, requests *int, each func(p corev1.Pod, whole bool)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type response struct {
		body io.ReadCloser
		err  error
	}
	get := func(opts metav1.ListOptions) <-chan response {
		*requests++
		got := make(chan response, 1)
		go func() {
			body, err := rc.Get().Namespace(scope.Namespace).Resource("pods").VersionedParams(&opts, scheme.ParameterCodec).
				SetHeader("Accept", protobufType).Stream(ctx)
			got <- response{body, err}
		}()
		return got
	}
	var next <-chan response
	defer func() {
		if next != nil { // a page asked for and not read: the list failed
			cancel()
			if r := <-next; r.body != nil {
				_ = r.body.Close()
			}
		}
	}()
	opts := metav1.ListOptions{LabelSelector: scope.Selector, Limit: pageSize}
	next = get(opts)
	var scratch []byte
	var decodeErr error
	for next != nil {
		r := <-next
		next = nil
		if r.err != nil {
			return r.err
		}
		err := readList(r.body, func(meta *metav1.ListMeta) {
			if meta.Continue != "" && next == nil {
				o := opts
				o.Continue = meta.Continue
				next = get(o)
			}
			if n := meta.RemainingItemCount; n != nil && *n > 0 && s.Pods == nil && len(scope.Pods) == 0 {
				s.Pods = make([]corev1.Pod, 0, int(pageSize+*n)) // this page is full, then n more
			}
		}, func(item []byte) error {
			var p corev1.Pod
			var whole bool
			var err error
			if p, whole, scratch, err = decodePod(item, scratch); err != nil {
				decodeErr = err
				return err
			}
			each(p, whole) // decoded pods hold copies, never the item's bytes
			return nil
		})
		_ = r.body.Close()
		switch {
		case decodeErr != nil:
			return decodeErr
		case err != nil:
			return fmt.Errorf("read a page of pods: %w", err)
		}
	}
	return nil
}

// decodePod decodes a pod from its protobuf: only the fields the checks read when none
// of its containers waits, or whole when one does. scratch is a buffer to reuse.
func decodePod(item, scratch []byte) (p corev1.Pod, whole bool, _ []byte, err error) {
	if scratch, err = appendFields(scratch[:0], item, runningPodFields); err != nil {
		return p, false, scratch, fmt.Errorf("read a pod: %w", err)
	}
	if err := p.Unmarshal(scratch); err != nil {
		return p, false, scratch, fmt.Errorf("read a pod: %w", err)
	}
	if !waiting(&p) {
		return p, false, scratch, nil
	}
	p = corev1.Pod{}
	if err := p.Unmarshal(item); err != nil {
		return p, true, scratch, fmt.Errorf("read pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	stripMeta(&p.ObjectMeta)
	return p, true, scratch, nil
}

// appendFields appends to dst the fields of the protobuf message msg that keep names,
// as a message of their own.
func appendFields(dst, msg []byte, keep fields) ([]byte, error) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return dst, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return dst, protowire.ParseError(m)
		}
		sub, ok := keep[num]
		switch {
		case !ok:
		case sub == nil:
			dst = append(dst, msg[:n+m]...)
		case typ != protowire.BytesType:
			return dst, fmt.Errorf("field %d is not a message", num)
		default:
			inner, _ := protowire.ConsumeBytes(msg[n:])
			start := len(dst)
			var err error
			if dst, err = appendFields(dst, inner, sub); err != nil {
				return dst, err
			}
			// The kept part's tag and length go before it, now that its length is known.
			size := len(dst) - start
			var buf [2 * 10]byte // a tag and a length, varints of at most 10 bytes each
			head := protowire.AppendVarint(protowire.AppendTag(buf[:0], num, protowire.BytesType), uint64(size))
			dst = append(dst, head...)
			copy(dst[start+len(head):], dst[start:start+size])
			copy(dst[start:], head)
		}
		msg = msg[n+m:]
	}
	return dst, nil
}
