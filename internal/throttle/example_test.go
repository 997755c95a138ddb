package throttle_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cordon-dev/cordon/internal/clock"
	"github.com/cordon-dev/cordon/internal/throttle"
)

func Example() {
	clk := clock.NewFake(time.Date(2014, 5, 27, 8, 0, 0, 0, time.UTC))
	th := throttle.New(throttle.DefaultConfig(), clk)
	k := throttle.Keys{Account: "alice", Address: throttle.AddressKey("203.0.113.9:51234"), Device: "d-1"}

	// A login handler: Check, verify the password, then Fail or Succeed.
	login := func(passwordOK bool) error {
		a, err := th.Check(context.Background(), k)
		if err != nil {
			return err
		}
		if !passwordOK {
			a.Fail()
			return nil
		}
		a.Succeed()
		return nil
	}
	for range 6 {
		login(false)
	}
	fmt.Println(login(true))
	clk.Advance(time.Second)
	fmt.Println(login(true))
	// Output:
	// too_many_attempts: too many failed logins; try again in 1 s
	// <nil>
}
