# Import a zone by name. The import adopts the zone without owning it: the
# first apply takes over the zone's A, AAAA and apex CAA records that the
# configuration names (one per name and type) and touches no other record.
# Destroy deletes only the records this resource created afterwards; the zone,
# the adopted records and everything else stay.
terraform import jhub_domain.class cs101.example.edu
