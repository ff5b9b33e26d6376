package main

import (
	"context"
	"fmt"
	"io"
)

// runOrigin implements 'bench origin'.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("origin load test: not implemented yet")
}
