package password_test

import (
	"context"
	"fmt"

	"github.com/cordon-dev/cordon/internal/password"
)

func ExampleHasher() {
	ctx := context.Background()
	// Cheap params keep the example fast; servers use DefaultParams.
	h := password.NewHasher(password.Params{Time: 1, MemoryKiB: 64}, password.Limits{})

	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", encoded)
	fmt.Println(ok, rehash, err)
	ok, rehash, err = h.Verify(ctx, "Tr0ub4dor&3", encoded)
	fmt.Println(ok, rehash, err)
	// Output:
	// true false <nil>
	// false false <nil>
}

func ExamplePolicy_Check() {
	p := password.DefaultPolicy()
	fmt.Println(p.Check("password123", "alice"))
	fmt.Println(p.Check("short", "alice"))
	fmt.Println(p.Check("correct horse battery staple", "alice"))
	// Output:
	// weak_password: password is too common: it appears in lists of breached passwords
	// weak_password: password must be at least 8 characters
	// <nil>
}
