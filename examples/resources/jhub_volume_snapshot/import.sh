# Import by snapshot ID (`doctl compute snapshot list --resource volume`).
terraform import jhub_volume_snapshot.fall fbe805e8-866b-11e6-96bf-000f53315a41
