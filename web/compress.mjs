// Writes FILE.gz and FILE.br beside every text file of the build (node's own zlib), so that
// the server's file handler sends them as they are to clients that accept them instead of
// compressing on every request. A sibling that would not be smaller is not written.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const TEXT = /\.(js|mjs|css|html|svg|json|txt|map)$/
let files = 0, raw = 0, gz = 0, br = 0

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (TEXT.test(name)) squeeze(path)
  }
}

function squeeze(path) {
  const data = readFileSync(path)
  const g = gzipSync(data, { level: 9 })
  const b = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  })
  files++
  raw += data.length
  if (g.length < data.length) { writeFileSync(path + '.gz', g); gz += g.length } else gz += data.length
  if (b.length < data.length) { writeFileSync(path + '.br', b); br += b.length } else br += data.length
}

const root = process.argv[2] || 'dist'
walk(root)
console.log(`compress: ${files} files, ${(raw / 1024).toFixed(0)} KiB → gzip ${(gz / 1024).toFixed(0)} KiB, brotli ${(br / 1024).toFixed(0)} KiB`)
