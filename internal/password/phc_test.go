package password

import (
	"bytes"
	"errors"
	"testing"
)

func TestPHCRoundTrip(t *testing.T) {
	want := phc{
		params: Params{Time: 2, MemoryKiB: 19456, Threads: 1, SaltLen: 16, KeyLen: 32},
		salt:   bytes.Repeat([]byte{0xa5}, 16),
		key:    bytes.Repeat([]byte{0x5a}, 32),
	}
	s := want.encode()
	const wantS = "$argon2id$v=19$m=19456,t=2,p=1$paWlpaWlpaWlpaWlpaWlpQ$WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo"
	if s != wantS {
		t.Errorf("encode = %q, want %q", s, wantS)
	}
	got, err := decodePHC(s)
	if err != nil {
		t.Fatalf("decodePHC: %v", err)
	}
	if got.params != want.params || !bytes.Equal(got.salt, want.salt) || !bytes.Equal(got.key, want.key) {
		t.Errorf("decodePHC = %+v, want %+v", got, want)
	}
}

// FuzzDecodePHC checks the decoder never panics and accepts only canonical
// strings: whatever it accepts encodes back to the same string.
func FuzzDecodePHC(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$paWlpaWlpaWlpaWlpaWlpQ$WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
		"$argon2id$v=19$m=0,t=0,p=0$$",
		"$argon2id$v=19$m=64,t=1,p=1,keyid=x$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=18446744073709551616,t=1,p=1$$",
		"$argon2id$$$$$$",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decodePHC error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if err := got.params.Validate(); err != nil {
			t.Fatalf("decodePHC accepted invalid params %+v: %v", got.params, err)
		}
		if int(got.params.SaltLen) != len(got.salt) || int(got.params.KeyLen) != len(got.key) {
			t.Fatalf("decodePHC lengths %+v disagree with salt %d, key %d bytes", got.params, len(got.salt), len(got.key))
		}
		if again := got.encode(); again != s {
			t.Fatalf("encode(decodePHC(%q)) = %q", s, again)
		}
	})
}

// FuzzEncodePHC checks every valid hash this package can write decodes to
// what was encoded.
func FuzzEncodePHC(f *testing.F) {
	f.Add(uint32(19456), uint32(2), uint8(1), bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 32))
	f.Add(uint32(8), uint32(1), uint8(1), bytes.Repeat([]byte{0}, 8), bytes.Repeat([]byte{0xff}, 16))
	f.Add(uint32(maxMemoryKiB), uint32(maxTime), uint8(255), bytes.Repeat([]byte{3}, 64), bytes.Repeat([]byte{4}, 128))
	f.Fuzz(func(t *testing.T, m, time uint32, threads uint8, salt, key []byte) {
		in := phc{
			params: Params{Time: time, MemoryKiB: m, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
			salt:   salt,
			key:    key,
		}
		if in.params.Validate() != nil {
			return
		}
		s := in.encode()
		out, err := decodePHC(s)
		if err != nil {
			t.Fatalf("decodePHC(encode(%+v)) = %v", in, err)
		}
		if out.params != in.params || !bytes.Equal(out.salt, in.salt) || !bytes.Equal(out.key, in.key) {
			t.Fatalf("decodePHC(%q) = %+v, want %+v", s, out, in)
		}
	})
}
