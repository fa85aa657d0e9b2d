package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// Bus subjects of the identity service's revocation feed.
const (
	RevocationSubject     = "identity.revocations"
	RevocationListSubject = RevocationSubject + ".list"
)

// FollowRevocations keeps list in step with the identity service of another process:
// it subscribes to revocation events first, then loads every stored event, so no
// event published in between is missed. It returns the unsubscribe function.
func FollowRevocations(ctx context.Context, b *bus.Bus, list *RevocationList, log *slog.Logger) (func(), error) {
	stop, err := b.Subscribe(RevocationSubject, func(data []byte) {
		var events []RevocationEvent
		if err := json.Unmarshal(data, &events); err != nil {
			log.Warn("malformed revocation event", "error", err)
			return
		}
		list.Add(events...)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to revocations: %w", err)
	}
	var events []RevocationEvent
	if err := b.Call(ctx, RevocationListSubject, struct{}{}, &events); err != nil {
		stop()
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	list.Add(events...)
	return stop, nil
}
