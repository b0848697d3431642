package doctor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A page of a list in protobuf is read as it arrives, one item at a time: the API
// server writes the list metadata first and then each item, and only one item is held
// at a time, never the page.

// protobufMagic starts every protobuf body of the API server, before a runtime.Unknown.
var protobufMagic = []byte("k8s\x00")

// readList reads a list in its protobuf envelope (a runtime.Unknown whose raw field
// is the list) from body. It calls onMeta with the list metadata as soon as it is
// read, and onItem with each item, encoded, as it is read; the item's bytes are valid
// only until onItem returns.
func readList(body io.Reader, onMeta func(*metav1.ListMeta), onItem func(item []byte) error) error {
	br := bufio.NewReaderSize(body, 64<<10)
	if head, err := br.Peek(len(protobufMagic)); err != nil || !bytes.Equal(head, protobufMagic) {
		head, _ = br.Peek(20)
		return fmt.Errorf("the API server did not answer in protobuf (%s): its answer starts %.20q", protobufType, head)
	}
	_, _ = br.Discard(len(protobufMagic))
	envelope := &wireReader{r: br, left: -1}
	for {
		if _, err := br.Peek(1); err == io.EOF {
			return nil
		}
		num, typ, err := envelope.tag()
		if err != nil {
			return fmt.Errorf("read the protobuf envelope: %w", err)
		}
		if num != 2 || typ != protowire.BytesType { // not runtime.Unknown's raw
			if err := envelope.skip(typ); err != nil {
				return fmt.Errorf("read the protobuf envelope: %w", err)
			}
			continue
		}
		n, err := envelope.length()
		if err != nil {
			return fmt.Errorf("read the protobuf envelope: %w", err)
		}
		list := &wireReader{r: br, left: n}
		if err := list.readItems(onMeta, onItem); err != nil {
			return err
		}
	}
}

// readItems reads the fields of a list: its metadata (field 1) and its items (field 2).
func (w *wireReader) readItems(onMeta func(*metav1.ListMeta), onItem func(item []byte) error) error {
	var buf bytes.Buffer
	for w.left > 0 {
		num, typ, err := w.tag()
		if err != nil {
			return fmt.Errorf("read a list: %w", err)
		}
		if (num != 1 && num != 2) || typ != protowire.BytesType {
			if err := w.skip(typ); err != nil {
				return fmt.Errorf("read a list: %w", err)
			}
			continue
		}
		n, err := w.length()
		if err != nil {
			return fmt.Errorf("read a list: %w", err)
		}
		buf.Reset()
		if err := w.read(&buf, n); err != nil {
			return fmt.Errorf("read a list: %w", err)
		}
		if num == 1 {
			var meta metav1.ListMeta
			if err := meta.Unmarshal(buf.Bytes()); err != nil {
				return fmt.Errorf("read a list's metadata: %w", err)
			}
			onMeta(&meta)
			continue
		}
		if err := onItem(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// wireReader reads protobuf fields from a stream: left bytes of a message, or -1 for
// a message that ends where the stream does.
type wireReader struct {
	r    *bufio.Reader
	left int64
}

var errTruncated = errors.New("a field runs past the end of its message")

// ReadByte reads a byte of the message, for binary.ReadUvarint.
func (w *wireReader) ReadByte() (byte, error) {
	if w.left == 0 {
		return 0, errTruncated
	}
	b, err := w.r.ReadByte()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && w.left > 0 {
		w.left--
	}
	return b, err
}

func (w *wireReader) tag() (protowire.Number, protowire.Type, error) {
	v, err := binary.ReadUvarint(w)
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber {
		return 0, 0, fmt.Errorf("invalid field number %d", num)
	}
	return num, typ, nil
}

// length reads the length of a length-delimited field, which must fit in the message.
func (w *wireReader) length() (int64, error) {
	v, err := binary.ReadUvarint(w)
	if err != nil {
		return 0, err
	}
	if v > 1<<62 || (w.left >= 0 && int64(v) > w.left) {
		return 0, errTruncated
	}
	return int64(v), nil
}

// read appends n bytes of the message to buf, which grows as they arrive: a length
// that lies costs no more memory than the bytes that come.
func (w *wireReader) read(buf *bytes.Buffer, n int64) error {
	got, err := io.CopyN(buf, w.r, n)
	if w.left > 0 {
		w.left -= got
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// skip reads past the value of a field of type typ.
func (w *wireReader) skip(typ protowire.Type) error {
	var n int64
	switch typ {
	case protowire.VarintType:
		_, err := binary.ReadUvarint(w)
		return err
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		var err error
		if n, err = w.length(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported wire type %d", typ)
	}
	if w.left >= 0 && n > w.left {
		return errTruncated
	}
	got, err := w.r.Discard(int(n))
	if w.left > 0 {
		w.left -= int64(got)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
