// vectors.mjs writes Firebase modified-scrypt vectors with the npm package
// firebase-scrypt@2.2.0 (github.com/xeewi/firebase-scrypt), the Node
// implementation of github.com/firebase/scrypt: scrypt(password, salt ||
// salt_separator, N = 2^mem_cost, r = rounds, p = 1, 32 bytes) is the key of
// AES-256-CTR (zero IV) over the project's signer key.
//
// Run once: npm install firebase-scrypt@2.2.0 && node vectors.mjs > vectors.json
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'

const require = createRequire(process.cwd() + '/')
const { FirebaseScrypt } = require('firebase-scrypt')

// The first project is the example in firebase/scrypt's README: its hash is
// checked against the README's, then all are hashed afresh.
const projects = [
  { name: 'firebase-readme', signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==', saltSeparator: 'Bw==', rounds: 8, memCost: 14 },
  { name: 'small', signerKey: randomBytes(64).toString('base64'), saltSeparator: 'Bw==', rounds: 4, memCost: 10 },
  { name: 'no-separator-short-key', signerKey: randomBytes(32).toString('base64'), saltSeparator: '', rounds: 1, memCost: 1 },
]
const users = {
  'firebase-readme': [['user1password', '42xEC+ixf3L2lw=='], ['Pässwörd ✓ 日本', randomBytes(10).toString('base64')]],
  small: [['correct horse battery staple', randomBytes(10).toString('base64')]],
  'no-separator-short-key': [['password', randomBytes(16).toString('base64')]],
}
const readmeHash = 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=='

const out = []
for (const p of projects) {
  const s = new FirebaseScrypt(p)
  for (const [password, salt] of users[p.name]) {
    const hash = await s.hash(password, salt)
    if (p.name === 'firebase-readme' && password === 'user1password' && hash !== readmeHash) {
      throw new Error(`README example: got ${hash}, want ${readmeHash}`)
    }
    out.push({
      project: p.name,
      hash_config: { base64_signer_key: p.signerKey, base64_salt_separator: p.saltSeparator, rounds: p.rounds, mem_cost: p.memCost },
      password, salt, passwordHash: hash,
    })
  }
}
console.log(JSON.stringify(out, null, 2))
