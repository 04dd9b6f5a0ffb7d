# Import a zone by name. The import takes over the zone's A, AAAA and apex CAA
# records; destroy then deletes the zone.
terraform import jhub_domain.class cs101.example.edu
