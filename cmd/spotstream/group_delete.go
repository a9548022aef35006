package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
)

const deleteSynopsis = `usage: spotstream group delete GROUP [GROUP...] [flags]

Delete consumer groups and their committed offsets. Kafka deletes only a
group without active members (else NON_EMPTY_GROUP): stop its consumers
first. One line per group says what happened; the exit status is 1 if any
group was not deleted.

Flags (-flag and --flag both work):
`

// deleteOptions are the command line of "spotstream group delete".
type deleteOptions struct {
	conn   adminConn
	groups []string
}

func (o deleteOptions) connection() adminConn { return o.conn }

// parseDeleteOptions parses the command line of "group delete".
func parseDeleteOptions(args []string, stderr io.Writer) (deleteOptions, error) {
	o := deleteOptions{conn: defaultAdminConn()}
	fs := newAdminFlagSet("group delete", deleteSynopsis, stderr)
	o.conn.register(fs)
	groups, err := parseInterspersed(fs, args)
	if err != nil {
		return o, err
	}
	switch {
	case len(groups) == 0:
		return o, errors.New("no group given: spotstream group delete GROUP [GROUP...]")
	case slices.Contains(groups, ""):
		return o, errors.New("empty group name")
	}
	slices.Sort(groups)
	o.groups = slices.Compact(groups) // deleting twice would report a bogus failure
	return o, o.conn.validate()
}

// groupDelete runs "spotstream group delete".
func groupDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, adm, ctx, done, err := startAdmin(ctx, args, stderr, parseDeleteOptions)
	if adm == nil {
		return err
	}
	defer done()
	// A coordinator that does not answer leaves its groups out of the
	// responses; printDeleteResults reports them with this error.
	deleted, reqErr := adm.DeleteGroups(ctx, o.groups...)
	if reqErr != nil && len(deleted) == 0 {
		return o.conn.explainTimeout(fmt.Errorf("delete groups: %w", reqErr))
	}
	return printDeleteResults(stdout, o.groups, deleted, reqErr)
}

// printDeleteResults prints one line per requested group and returns an
// error if any was not deleted. reqErr is why groups missing from the
// responses got no answer.
func printDeleteResults(w io.Writer, groups []string, deleted kadm.DeleteGroupResponses, reqErr error) error {
	failed := 0
	for _, g := range groups {
		r, ok := deleted[g]
		var err error
		switch {
		case !ok && reqErr != nil:
			err = fmt.Errorf("no answer: %w", reqErr)
		case !ok:
			err = errors.New("missing from the cluster's answer")
		case r.Err != nil:
			err = explain(r.Err)
			if r.ErrMessage != "" {
				err = fmt.Errorf("%w: %s", err, r.ErrMessage)
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(w, "group %s: not deleted: %v\n", g, err)
			continue
		}
		fmt.Fprintf(w, "group %s: deleted\n", g)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d groups not deleted", failed, len(groups))
	}
	return nil
}
