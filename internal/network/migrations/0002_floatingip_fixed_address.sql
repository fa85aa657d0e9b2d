-- A fixed IP has at most one floating IP on each external network (upstream's
-- uniq_floatingips0floatingnetworkid0fixedportid0fixedipaddress): the schema holds
-- it, whatever the interleaving of the associations. Rows associated before this
-- migration get their fixed_ip_address at the service's start (a NULL is distinct
-- from every value, so they do not conflict meanwhile).
ALTER TABLE floatingips ADD COLUMN fixed_ip_address TEXT;
CREATE UNIQUE INDEX floatingips_one_per_fixed_ip ON floatingips (floating_network_id, port_id, fixed_ip_address);
