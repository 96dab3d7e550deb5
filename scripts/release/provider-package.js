// The provider as Terraform distributes providers: a zip holding one executable, a SHA256SUMS
// file, and a mirror directory that is at once a packed filesystem mirror
// (HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip) and, served over HTTPS as
// static files, a network mirror (HOST/NAMESPACE/TYPE/index.json and VERSION.json).
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest();

/** Terraform's "h1:" package hash: dirhash Hash1 over the archive's files, sorted by name. */
function h1Hash(files) {
  const lines = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${sha256(f.data).toString('hex')}  ${f.name}\n`)
    .join('');
  return `h1:${sha256(Buffer.from(lines)).toString('base64')}`;
}

/** A zip with fixed times and modes, so its bytes (Terraform's "zh:" hash) depend only on its content. */
function deterministicZip(root, files, date) {
  const ZipStream = require(path.join(root, 'node_modules', 'zip-stream'));
  return new Promise((resolve, reject) => {
    const zip = new ZipStream({ zlib: { level: 9 }, forceLocalTime: false });
    const chunks = [];
    zip.on('data', (c) => chunks.push(c));
    zip.on('error', reject);
    zip.on('end', () => resolve(Buffer.concat(chunks)));
    const next = (i) => {
      if (i === files.length) return zip.finish();
      const f = files[i];
      zip.entry(f.data, { name: f.name, date, mode: f.mode }, (err) => (err ? reject(err) : next(i + 1)));
    };
    next(0);
  });
}

/**
 * @returns {Promise<{zip: string, sums: string, mirror: string, hashes: string[]}>}
 */
async function providerPackage({ root, releaseDir, executable, version, platform, host, namespace, type, date }) {
  const exeName = `terraform-provider-${type}_v${version}`;
  const zipName = `terraform-provider-${type}_${version}_${platform}.zip`;
  const files = [{ name: exeName, data: fs.readFileSync(executable), mode: 0o755 }];
  const zipBytes = await deterministicZip(root, files, date);
  const zip = path.join(releaseDir, zipName);
  fs.writeFileSync(zip, zipBytes);

  const sums = path.join(releaseDir, `terraform-provider-${type}_${version}_SHA256SUMS`);
  fs.writeFileSync(sums, `${sha256(zipBytes).toString('hex')}  ${zipName}\n`);

  const hashes = [h1Hash(files), `zh:${sha256(zipBytes).toString('hex')}`];
  const typeDir = path.join(releaseDir, 'mirror', host, namespace, type);
  fs.mkdirSync(typeDir, { recursive: true });
  fs.copyFileSync(zip, path.join(typeDir, zipName));
  // The network mirror protocol; the archive URL is relative to VERSION.json.
  fs.writeFileSync(path.join(typeDir, 'index.json'), JSON.stringify({ versions: { [version]: {} } }, null, 2) + '\n');
  fs.writeFileSync(path.join(typeDir, `${version}.json`), JSON.stringify({ archives: { [platform]: { url: zipName, hashes } } }, null, 2) + '\n');
  return { zip, sums, mirror: path.join(releaseDir, 'mirror'), hashes };
}

module.exports = { providerPackage, h1Hash };
