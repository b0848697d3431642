package doctor

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// encodeList encodes a pod list as the API server answers in protobuf: its serializer's
// envelope around the list.
func encodeList(t testing.TB, list *corev1.PodList) []byte {
	t.Helper()
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), protobufType)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	var buf bytes.Buffer
	if err := scheme.Codecs.EncoderForVersion(info.Serializer, corev1.SchemeGroupVersion).Encode(list, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listRead is what readList gave: the list metadata and the items decoded, in order,
// with where the metadata came among them.
type listRead struct {
	Meta      []metav1.ListMeta
	MetaAfter []int // items read before each metadata
	Items     []corev1.Pod
}

func readAll(t testing.TB, body io.Reader) (listRead, error) {
	var got listRead
	err := readList(body, func(m *metav1.ListMeta) {
		got.Meta = append(got.Meta, *m)
		got.MetaAfter = append(got.MetaAfter, len(got.Items))
	}, func(item []byte) error {
		var p corev1.Pod
		if err := p.Unmarshal(item); err != nil {
			return fmt.Errorf("an item is not a pod: %w", err)
		}
		got.Items = append(got.Items, p)
		return nil
	})
	return got, err
}

func TestReadListStreamsItems(t *testing.T) {
	remaining := int64(7)
	pods := []corev1.Pod{fullPod(corev1.ContainerState{}, corev1.ContainerState{}, corev1.ContainerState{}), {ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "x"}}, {ObjectMeta: metav1.ObjectMeta{Name: "c"}}}
	list := &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "token", RemainingItemCount: &remaining}, Items: pods}
	body := encodeList(t, list)
	listBytes, err := list.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	metaBytes, err := list.ListMeta.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The same list with its metadata after its items, and an envelope with more
	// fields after the list: readList does not depend on the order the server writes.
	var reordered []byte
	for _, p := range pods {
		item, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		reordered = protowire.AppendBytes(protowire.AppendTag(reordered, 2, protowire.BytesType), item)
	}
	reordered = protowire.AppendBytes(protowire.AppendTag(reordered, 1, protowire.BytesType), metaBytes)
	reordered = protowire.AppendVarint(protowire.AppendTag(reordered, 9, protowire.VarintType), 300) // a field a later version may add
	envelope := append([]byte{}, protobufMagic...)
	envelope = protowire.AppendBytes(protowire.AppendTag(envelope, 1, protowire.BytesType), []byte("\x0a\x02v1\x12\x07PodList"))
	envelope = protowire.AppendBytes(protowire.AppendTag(envelope, 2, protowire.BytesType), reordered)
	envelope = protowire.AppendBytes(protowire.AppendTag(envelope, 4, protowire.BytesType), []byte(protobufType))

	for _, tt := range []struct {
		name string
		body []byte
		want listRead
		err  string // part of the error; "" for none
	}{
		{"as the API server writes it", body, listRead{Meta: []metav1.ListMeta{list.ListMeta}, MetaAfter: []int{0}, Items: pods}, ""},
		{"metadata after the items, fields after the list", envelope, listRead{Meta: []metav1.ListMeta{list.ListMeta}, MetaAfter: []int{3}, Items: pods}, ""},
		{"no items", encodeList(t, &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}), listRead{Meta: []metav1.ListMeta{{ResourceVersion: "1"}}, MetaAfter: []int{0}}, ""},
		{"JSON", []byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`), listRead{}, `did not answer in protobuf (application/vnd.kubernetes.protobuf): its answer starts "{\"kind\":\"PodList\",\"a"`},
		{"empty", nil, listRead{}, "did not answer in protobuf"},
		{"cut in an item", body[:len(body)-len(listBytes)/2], listRead{Meta: []metav1.ListMeta{list.ListMeta}, MetaAfter: []int{0}, Items: pods[:1]}, "unexpected EOF"},
		{"a list longer than the envelope says", append(append([]byte{}, protobufMagic...), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), protowire.AppendTag(nil, 2, protowire.BytesType))...), listRead{}, "past the end of its message"},
		{"an item longer than its list", append(append([]byte{}, protobufMagic...), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.BytesType), 1<<40))...), listRead{}, "past the end of its message"},
		{"a group", append(append([]byte{}, protobufMagic...), protowire.AppendTag(nil, 5, protowire.StartGroupType)...), listRead{}, "unsupported wire type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, bytes.NewReader(tt.body))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("readList: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("readList error = %v, want one saying %q", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" && tt.err == "" || tt.err != "" && len(got.Items) > len(tt.want.Items) {
				t.Errorf("read (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzReadList: on any bytes readList returns or fails, never panics, and never gives
// more item bytes than the body holds; on a list the serializer wrote, it gives the
// list's metadata and items.
func FuzzReadList(f *testing.F) {
	remaining := int64(3)
	for _, list := range []*corev1.PodList{
		{ListMeta: metav1.ListMeta{Continue: "c", RemainingItemCount: &remaining}, Items: []corev1.Pod{fullPod(corev1.ContainerState{}, corev1.ContainerState{}, corev1.ContainerState{}), {}}},
		{},
	} {
		f.Add(encodeList(f, list))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var itemBytes int
		_ = readList(bytes.NewReader(body), func(*metav1.ListMeta) {}, func(item []byte) error {
			itemBytes += len(item)
			return nil
		}) // may fail: on any bytes it must not panic
		if itemBytes > len(body) {
			t.Fatalf("readList gave %d bytes of items from a body of %d", itemBytes, len(body))
		}
		// What the generated code reads of the same body, when it reads it as a list.
		unknown, ok := bytes.CutPrefix(body, protobufMagic)
		var u runtime.Unknown
		var list corev1.PodList
		if !ok || u.Unmarshal(unknown) != nil || list.Unmarshal(u.Raw) != nil || countRaw(unknown) != 1 {
			return
		}
		got, err := readAll(t, bytes.NewReader(body))
		if err != nil {
			if strings.Contains(err.Error(), "wire type") || strings.Contains(err.Error(), "field number") {
				return // a group or field 0, which gogo's generated code skips and protowire refuses
			}
			t.Fatalf("readList fails on a list the generated code reads: %v", err)
		}
		if len(got.Items) != len(list.Items) {
			t.Fatalf("readList read %d items, the generated code %d", len(got.Items), len(list.Items))
		}
		if diff := cmp.Diff(list.Items, got.Items); len(list.Items) > 0 && diff != "" {
			t.Fatalf("items (-generated +readList):\n%s", diff)
		}
	})
}

// countRaw counts the raw fields (2) of an encoded runtime.Unknown: the generated code
// keeps the last of several, readList reads them all.
func countRaw(unknown []byte) int {
	n := 0
	for len(unknown) > 0 {
		num, typ, l := protowire.ConsumeTag(unknown)
		if l < 0 {
			return -1
		}
		m := protowire.ConsumeFieldValue(num, typ, unknown[l:])
		if m < 0 {
			return -1
		}
		if num == 2 {
			n++
		}
		unknown = unknown[l+m:]
	}
	return n
}
