package provider

import (
	"context"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var _ retryablehttp.LeveledLogger = tflogRetryLogger{}

// tflogRetryLogger sends godo's retry messages to Terraform's log, where
// TF_LOG=DEBUG shows every retried request. URLs carry no secrets: the token
// travels in a header, which retryablehttp does not log.
type tflogRetryLogger struct{ ctx context.Context }

func (l tflogRetryLogger) Error(msg string, kv ...any) { tflog.Error(l.ctx, msg, fields(kv)) }
func (l tflogRetryLogger) Info(msg string, kv ...any)  { tflog.Info(l.ctx, msg, fields(kv)) }
func (l tflogRetryLogger) Debug(msg string, kv ...any) { tflog.Debug(l.ctx, msg, fields(kv)) }
func (l tflogRetryLogger) Warn(msg string, kv ...any)  { tflog.Warn(l.ctx, msg, fields(kv)) }

func fields(kv []any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			m[k] = kv[i+1]
		}
	}
	return m
}
