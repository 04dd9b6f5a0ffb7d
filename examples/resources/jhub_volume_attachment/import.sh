# Import as <droplet_id>,<volume_id>.
terraform import jhub_volume_attachment.home 3164444,506f78a4-e098-11e5-ad9f-000f53306ae1
