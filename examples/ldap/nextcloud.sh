#!/bin/sh
# Nextcloud "LDAP user and group backend" (apps/user_ldap) settings for
# Gatehouse's directory server, as occ commands. The keys are the app's own
# (apps/user_ldap/lib/Configuration.php). Run from Nextcloud's directory as
# the web server's user:
#
#   SECRET='<the secret of POST /api/v1/ldap/clients {"name":"nextcloud","app":"<gatehouse app name>"}>'
#   CONFIG=$(php occ ldap:create-empty-config -p)   # prints the new config id, e.g. s01
#   . ./nextcloud.sh
#
# StartTLS on ldap_server's listen port (3890). For LDAPS instead:
# ldapHost 'ldaps://ldap.example.com', ldapPort 6360, ldapTLS 0.
#
# Tested by caddymodule/ldap_clients_test.go (TestLDAPClientSettings), which
# reads this file and replays the app's LDAP operations.
php occ ldap:set-config "$CONFIG" ldapHost 'ldap.example.com'
php occ ldap:set-config "$CONFIG" ldapPort 3890
php occ ldap:set-config "$CONFIG" ldapTLS 1
php occ ldap:set-config "$CONFIG" ldapAgentName 'cn=nextcloud,ou=system,dc=example,dc=com'
php occ ldap:set-config "$CONFIG" ldapAgentPassword "$SECRET"
php occ ldap:set-config "$CONFIG" ldapBase 'dc=example,dc=com'
php occ ldap:set-config "$CONFIG" ldapBaseUsers 'ou=users,dc=example,dc=com'
php occ ldap:set-config "$CONFIG" ldapBaseGroups 'ou=groups,dc=example,dc=com'
php occ ldap:set-config "$CONFIG" ldapUserFilterObjectclass 'inetOrgPerson'
php occ ldap:set-config "$CONFIG" ldapUserFilter '(objectClass=inetOrgPerson)'
php occ ldap:set-config "$CONFIG" ldapLoginFilter '(&(objectClass=inetOrgPerson)(|(uid=%uid)(mail=%uid)))'
php occ ldap:set-config "$CONFIG" ldapLoginFilterEmail 1
php occ ldap:set-config "$CONFIG" ldapLoginFilterUsername 1
php occ ldap:set-config "$CONFIG" ldapGroupFilterObjectclass 'groupOfUniqueNames'
php occ ldap:set-config "$CONFIG" ldapGroupFilter '(objectClass=groupOfUniqueNames)'
php occ ldap:set-config "$CONFIG" ldapGroupMemberAssocAttr 'uniqueMember'
php occ ldap:set-config "$CONFIG" useMemberOfToDetectMembership 1
php occ ldap:set-config "$CONFIG" ldapGroupDisplayName 'cn'
php occ ldap:set-config "$CONFIG" ldapUserDisplayName 'cn'
php occ ldap:set-config "$CONFIG" ldapEmailAttribute 'mail'
php occ ldap:set-config "$CONFIG" ldapExpertUsernameAttr 'uid'
php occ ldap:set-config "$CONFIG" ldapExpertUUIDUserAttr 'entryUUID'
php occ ldap:set-config "$CONFIG" ldapExpertUUIDGroupAttr 'entryUUID'
php occ ldap:set-config "$CONFIG" ldapPagingSize 500
php occ ldap:set-config "$CONFIG" turnOnPasswordChange 0
php occ ldap:set-config "$CONFIG" ldapConfigurationActive 1
