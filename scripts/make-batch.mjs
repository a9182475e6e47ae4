#!/usr/bin/env node
// Generates a synthetic batch shaped like a welfare-applicant list that a city social-affairs department sends to the
// tax bureau: CSV (RFC 4180 fields, none needing quotes; LF line ends), UTF-8 without BOM, a header row, then one row
// per household member. Every name, national ID, household and address is random fictional test data; national IDs
// are well formed (letter, 1 or 2, eight digits) with a valid check digit, so validators accept them.
//
// Usage: node scripts/make-batch.mjs (--rows N | --bytes SIZE) [-o OUT] [--seed S]
//   --rows N      exactly N data rows (the last household is cut short to fit)
//   --bytes SIZE  at least SIZE bytes (e.g. 5M, 256M, 1G; K/M/G are powers of 1024), ending after a whole household
//   -o OUT        output file (default: stdout)
//   --seed S      any string; the same seed and size give byte-identical output (default "sealpost")
// Streams in 4 MiB chunks with constant memory. `batchChunks()` is exported for benchmarks and tests.
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { LETTER_CODES } from "./lib/national-id.mjs";

/** Column names of the header row, in order. */
export const COLUMNS = [
  "seq",
  "household_id",
  "name",
  "national_id",
  "sex",
  "birth_date",
  "relation_to_head",
  "household_size",
  "district",
  "address",
  "monthly_income",
  "welfare_category",
];

const SURNAMES = [
  ..."陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐周葉蘇莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴",
];
const MALE_CHARS = [..."志明建民家豪承翰宗翰俊傑冠宇柏宏文彬國華明哲子軒信宏嘉偉正雄榮輝振興世昌育霖彥廷"];
const FEMALE_CHARS = [..."怡君淑芬美玲雅婷佳蓉靜怡淑惠雅文欣怡詩涵宜蓁婉婷佩珊秀英麗華玉珍家瑜思妤筱涵"];
const DISTRICTS = (
  "楠梓區 左營區 鼓山區 三民區 鹽埕區 前金區 新興區 苓雅區 前鎮區 旗津區 小港區 鳳山區 林園區 大寮區 大樹區 大社區 " +
  "仁武區 鳥松區 岡山區 橋頭區 燕巢區 田寮區 阿蓮區 路竹區 湖內區 茄萣區 永安區 彌陀區 梓官區 旗山區 美濃區 六龜區 " +
  "甲仙區 杉林區 內門區 茂林區 桃源區 那瑪夏區"
).split(" ");
const ROADS = (
  "中正路 中山路 民族路 自由路 建國路 光復路 五福路 四維路 博愛路 明誠路 九如路 鳳山路 青年路 成功路 和平路 大順路 " +
  "澄清路 河堤路 文化路 復興路 民生路 中華路 忠孝路 仁愛路 信義路"
).split(" ");
const CATEGORIES = ["低收入戶", "中低收入戶", "中低收入老人生活津貼", "身心障礙者生活補助", "特殊境遇家庭扶助"];
// Region letters: most applicants registered in Kaohsiung (E 高雄市, S 高雄縣), some elsewhere.
const LETTERS = "EEEEEEEEEEEEEESSSSABDFHKLNPQRTUVX";

const enc = (s) => Buffer.from(s, "utf8");
const SURNAME_B = SURNAMES.map(enc);
const MALE_B = MALE_CHARS.map(enc);
const FEMALE_B = FEMALE_CHARS.map(enc);
// The last field with its separator and the line end.
const CATEGORY_B = CATEGORIES.map((c) => enc("," + c + "\n"));
const CATEGORY_UNDER_65 = [0, 1, 3, 4];
const SEX_B = [enc("男,"), enc("女,")];
const LETTER_B = [...LETTERS].map((l) => l.charCodeAt(0));
const LETTER_CODE = [...LETTERS].map((l) => LETTER_CODES[l]);

// Relations to the head of household: label, sex (0 male, 1 female, -1 random), birth-year offset from the head
// (min, max), whether the member keeps the head's surname.
const rel = (label, sex, dy0, dy1, same) => ({ label: enc(label), sex, dy0, dySpan: dy1 - dy0 + 1, same });
// Index 0 is the head, 1 the spouse, the rest other members (MEMBER_KINDS). sex -2: opposite of the head's.
const REL_LIST = [
  rel("戶長", -1, 0, 0, true),
  rel("配偶", -2, -6, 6, false),
  rel("子", 0, 20, 38, true),
  rel("女", 1, 20, 38, true),
  rel("子", 0, 20, 38, true),
  rel("女", 1, 20, 38, true),
  rel("父", 0, -38, -22, true),
  rel("母", 1, -36, -20, false),
  rel("孫", 0, 42, 60, true),
  rel("孫女", 1, 42, 60, true),
  rel("兄弟姊妹", -1, -8, 8, true),
];
const MEMBER_KINDS = REL_LIST.length - 2;

const CHUNK = 4 * 1024 * 1024;
const MAX_HOUSEHOLD = 6 * 512; // generous upper bound of one household's bytes

/** Deterministic random numbers: FNV-1a hash of the seed string, then the sfc32 generator. */
class Random {
  constructor(seed) {
    let h = 0x811c9dc5;
    for (const ch of Buffer.from(String(seed), "utf8")) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
    this.a = h;
    this.b = 0x9e3779b9;
    this.c = 0x243f6a88;
    this.d = 1;
    for (let i = 0; i < 16; i++) this.next();
  }
  /** Next 32-bit unsigned value. */
  next() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Integer in [0, n), n < 2^20 (multiply-shift: no division). */
  int(n) {
    return Math.floor(((this.next() >>> 12) * n) / 1048576);
  }
}

/**
 * Parses a size such as "1G", "256M", "5M", "100K", "1.5G" or "12345" (K/M/G/T are powers of 1024).
 * @param {string} text
 * @returns {number} bytes
 */
export function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(String(text).trim());
  if (!m) throw new RangeError(`not a size: ${text} (examples: 5M, 256M, 1G)`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase()];
  return Math.ceil(Number(m[1]) * mult);
}

function copy(buf, off, src) {
  const n = src.length;
  for (let i = 0; i < n; i++) buf[off + i] = src[i];
  return off + n;
}

function putInt(buf, off, n) {
  if (n < 10) {
    buf[off] = 0x30 + n;
    return off + 1;
  }
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  let p = off + digits - 1;
  for (let v = n; p >= off; p--) {
    buf[p] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return off + digits;
}

const DISTRICT_B = DISTRICTS.map(enc);
const ROAD_B = ROADS.map(enc);
const CITY_B = enc("高雄市");
const HAO_B = enc("號");
const LOU_B = enc("樓");
const SECTION_B = ["一段", "二段", "三段"].map(enc);

/** Writes the household-constant middle of a row, ",size,district,address,", into `out`; returns its length. */
function householdMiddle(r, size, out) {
  const district = DISTRICT_B[r.int(DISTRICT_B.length)];
  const section = r.int(4); // 0: no section
  const floor = r.int(3) === 0 ? 0 : 1 + r.int(15);
  let n = 0;
  out[n++] = 0x2c;
  out[n++] = 0x30 + size;
  out[n++] = 0x2c;
  n = copy(out, n, district);
  out[n++] = 0x2c;
  n = copy(out, n, CITY_B);
  n = copy(out, n, district);
  n = copy(out, n, ROAD_B[r.int(ROAD_B.length)]);
  if (section > 0) n = copy(out, n, SECTION_B[section - 1]);
  n = putInt(out, n, 1 + r.int(480));
  n = copy(out, n, HAO_B);
  if (floor > 0) {
    n = putInt(out, n, floor);
    n = copy(out, n, LOU_B);
  }
  out[n++] = 0x2c;
  return n;
}

/** Generator state: the position in the batch. */
class BatchWriter {
  constructor(seed, rows) {
    this.r = new Random(seed);
    this.rows = rows; // undefined: unlimited (bytes mode)
    this.seq = 0;
    this.household = 0;
    this.kinds = new Int32Array(6);
    this.hid = new Uint8Array(12);
    this.middle = new Uint8Array(512);
  }

  done() {
    return this.rows !== undefined && this.seq >= this.rows;
  }

  /** Writes one whole household (cut short in rows mode) at off; returns the new offset. */
  household_(buf, off) {
    const r = this.r;
    this.household++;
    let size = 1 + Math.min(r.int(4) + r.int(3), 5);
    if (this.rows !== undefined && size > this.rows - this.seq) size = this.rows - this.seq;
    // ",H000000001," then the middle part, written once per household.
    const hid = this.hid;
    hid[0] = 0x2c;
    hid[1] = 0x48;
    for (let v = this.household, p = 10; p >= 2; p--) {
      hid[p] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
    hid[11] = 0x2c;
    const middle = this.middle;
    const middleView = middle.subarray(0, householdMiddle(r, size, middle));
    const headYear = 1940 + r.int(56);
    // The old-age allowance only for heads aged 65 or more.
    const category = CATEGORY_B[headYear <= 1960 ? r.int(CATEGORY_B.length) : CATEGORY_UNDER_65[r.int(4)]];
    const headSurname = r.int(SURNAME_B.length);
    const headSex = r.int(2);
    const kinds = this.kinds;
    kinds[0] = 0;
    let hasSpouse = false;
    for (let m = 1; m < size; m++) {
      if (!hasSpouse && r.int(3) !== 0) {
        kinds[m] = 1;
        hasSpouse = true;
      } else kinds[m] = 2 + r.int(MEMBER_KINDS);
    }
    for (let m = 0; m < size; m++) {
      const rel = REL_LIST[kinds[m]];
      this.seq++;
      const sex = rel.sex === -1 ? (m === 0 ? headSex : r.int(2)) : rel.sex === -2 ? 1 - headSex : rel.sex;
      let year = headYear + rel.dy0 + r.int(rel.dySpan);
      if (year > 2024) year = 2024;
      else if (year < 1925) year = 1925;
      const month = 1 + r.int(12);
      const day = 1 + r.int(28);

      off = putInt(buf, off, this.seq);
      off = copy(buf, off, hid);
      // name: surname + one or two given-name characters
      off = copy(buf, off, SURNAME_B[rel.same ? headSurname : r.int(SURNAME_B.length)]);
      const pool = sex === 0 ? MALE_B : FEMALE_B;
      off = copy(buf, off, pool[r.int(pool.length)]);
      if (r.int(10) !== 0) off = copy(buf, off, pool[r.int(pool.length)]);
      buf[off++] = 0x2c;
      // national_id: region letter, sex digit, 7 random digits, check digit
      const li = r.int(LETTER_B.length);
      const code = LETTER_CODE[li];
      buf[off++] = LETTER_B[li];
      const sexDigit = sex + 1;
      buf[off++] = 0x30 + sexDigit;
      let sum = Math.floor(code / 10) + (code % 10) * 9 + sexDigit * 8;
      let serial = r.int(1000000) * 10 + r.int(10); // seven digits
      for (let w = 1, p = off + 6; w <= 7; w++, p--) {
        const dgt = serial % 10;
        serial = (serial - dgt) / 10;
        sum += dgt * w;
        buf[p] = 0x30 + dgt;
      }
      off += 7;
      buf[off++] = 0x30 + ((10 - (sum % 10)) % 10);
      buf[off++] = 0x2c;
      off = copy(buf, off, SEX_B[sex]);
      // birth_date YYYY-MM-DD
      off = putInt(buf, off, year);
      buf[off++] = 0x2d;
      buf[off++] = 0x30 + Math.floor(month / 10);
      buf[off++] = 0x30 + (month % 10);
      buf[off++] = 0x2d;
      buf[off++] = 0x30 + Math.floor(day / 10);
      buf[off++] = 0x30 + (day % 10);
      buf[off++] = 0x2c;
      off = copy(buf, off, rel.label);
      buf.set(middleView, off);
      off += middleView.length;
      // monthly_income (NTD): children and many of the very old have none
      const age = 2025 - year;
      off = putInt(buf, off, age < 18 || (age > 75 && r.int(2) === 0) ? 0 : r.int(4300) * 10);
      buf.set(category, off);
      off += category.length;
    }
    return off;
  }
}

/**
 * Yields the batch as Buffers of about 4 MiB (each a fresh buffer the consumer may keep).
 * Exactly one of `rows` (data rows, header not counted) and `bytes` (minimum total size) must be given.
 * @param {{ rows?: number; bytes?: number; seed?: string }} options seed defaults to "sealpost"
 * @returns {Generator<Buffer>}
 */
export function* batchChunks(options) {
  const { rows, bytes, seed = "sealpost" } = options;
  if ((rows === undefined) === (bytes === undefined)) throw new RangeError("give exactly one of rows and bytes");
  if (rows !== undefined && !(Number.isInteger(rows) && rows >= 0))
    throw new RangeError("rows must be an integer >= 0");
  if (bytes !== undefined && !(Number.isFinite(bytes) && bytes >= 0)) throw new RangeError("bytes must be >= 0");
  const w = new BatchWriter(seed, rows);
  let buf = Buffer.allocUnsafe(CHUNK);
  let off = buf.write(COLUMNS.join(",") + "\n", 0, "utf8");
  let total = 0;
  for (;;) {
    if (rows !== undefined ? w.done() : total + off >= bytes) break;
    if (off > CHUNK - MAX_HOUSEHOLD) {
      total += off;
      yield buf.subarray(0, off);
      buf = Buffer.allocUnsafe(CHUNK);
      off = 0;
    }
    off = w.household_(buf, off);
  }
  if (off > 0) yield buf.subarray(0, off);
}

function usage() {
  return (
    "usage: node scripts/make-batch.mjs (--rows N | --bytes SIZE) [-o OUT] [--seed S]\n" +
    "  --rows N      exactly N data rows after the header\n" +
    "  --bytes SIZE  at least SIZE bytes, whole households only (5M, 256M, 1G; powers of 1024)\n" +
    "  -o, --out     output file (default: stdout)\n" +
    "  --seed S      same seed and size => identical output (default: sealpost)\n" +
    "example: node scripts/make-batch.mjs --bytes 1G --seed bench -o /tmp/batch-1g.csv\n"
  );
}

/** Parses argv into batchChunks options plus the output path. Throws RangeError on bad arguments. */
export function parseArgs(argv) {
  const opts = { seed: "sealpost" };
  let out;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === "--rows") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new RangeError("--rows must be a whole number");
      opts.rows = n;
    } else if (a === "--bytes") opts.bytes = parseSize(value());
    else if (a === "-o" || a === "--out") out = value();
    else if (a === "--seed") opts.seed = value();
    else if (a === "-h" || a === "--help") return { help: true };
    else throw new RangeError(`unknown argument: ${a}`);
  }
  if ((opts.rows === undefined) === (opts.bytes === undefined))
    throw new RangeError("give exactly one of --rows and --bytes");
  return { opts, out };
}

async function main() {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`make-batch: error: ${err.message}\n${usage()}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(usage());
    return;
  }
  const sink = parsed.out ? createWriteStream(parsed.out, { highWaterMark: CHUNK }) : process.stdout;
  await pipeline(Readable.from(batchChunks(parsed.opts), { objectMode: false, highWaterMark: CHUNK }), sink);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`make-batch: error: ${err.message}\n`);
    process.exit(1);
  });
}
