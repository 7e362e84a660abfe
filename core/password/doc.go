// Package password hashes and verifies passwords with argon2id in PHC string format, in a bounded pool so a login flood cannot exhaust CPU or memory.
package password
