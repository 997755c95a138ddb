package clientfacts_test

import (
	"fmt"

	"github.com/cordon-dev/cordon/internal/clientfacts"
	"github.com/cordon-dev/cordon/internal/cordon"
)

func ExampleParse() {
	f, err := clientfacts.Parse(`platform=android, version="8.4.1", source=play, device="d-1"`)
	fmt.Printf("%+v %v\n", f, err)

	_, err = clientfacts.Parse(`platform=amiga`)
	fmt.Println(err.(*cordon.Error).Message)
	// Output:
	// {Platform:android Version:8.4.1 Source:play Device:d-1} <nil>
	// Cordon-Client: platform "amiga" is not one of android, ios, desktop, web, winphone, tv
}

func ExampleFormat() {
	fmt.Println(clientfacts.Format(cordon.ClientFacts{Platform: "ios", Version: "8.4.1", Source: "appstore"}))
	// Output:
	// platform=ios, version="8.4.1", source=appstore
}
