import type { ParsedCert } from "./x509.js";

/**
 * RFC 5280 6.1 certificate policy processing with the valid_policy_tree, step for step: (d)-(f) of 6.1.3 for each
 * certificate, (a)-(b), (h)-(j) of 6.1.4 between certificates, and (a), (b), (g) of 6.1.5 at the end.
 */
export const ANY_POLICY = "2.5.29.32.0";

interface PolicyNode {
  validPolicy: string;
  expected: Set<string>;
  parent: PolicyNode | undefined;
  children: PolicyNode[];
  depth: number;
}

export interface PolicyInputs {
  /** user-initial-policy-set; default { anyPolicy }. */
  initialPolicySet?: string[];
  initialExplicitPolicy?: boolean;
  initialPolicyMappingInhibit?: boolean;
  initialAnyPolicyInhibit?: boolean;
}

export class PolicyProcessor {
  private levels: PolicyNode[][] | undefined;
  private explicitPolicy: number;
  private inhibitAnyPolicy: number;
  private policyMapping: number;
  private readonly initial: Set<string>;

  constructor(
    private readonly n: number,
    inputs: PolicyInputs,
  ) {
    const root: PolicyNode = {
      validPolicy: ANY_POLICY,
      expected: new Set([ANY_POLICY]),
      parent: undefined,
      children: [],
      depth: 0,
    };
    this.levels = [[root]];
    this.explicitPolicy = inputs.initialExplicitPolicy ? 0 : n + 1;
    this.inhibitAnyPolicy = inputs.initialAnyPolicyInhibit ? 0 : n + 1;
    this.policyMapping = inputs.initialPolicyMappingInhibit ? 0 : n + 1;
    this.initial = new Set(inputs.initialPolicySet?.length ? inputs.initialPolicySet : [ANY_POLICY]);
  }

  private addChild(parent: PolicyNode, validPolicy: string, expected: Set<string>): void {
    const node: PolicyNode = { validPolicy, expected, parent, children: [], depth: parent.depth + 1 };
    parent.children.push(node);
    const levels = this.levels as PolicyNode[][];
    if (!levels[node.depth]) levels[node.depth] = [];
    levels[node.depth]?.push(node);
  }

  private remove(node: PolicyNode): void {
    for (const c of [...node.children]) this.remove(c);
    const levels = this.levels as PolicyNode[][];
    const lvl = levels[node.depth];
    if (lvl) levels[node.depth] = lvl.filter((x) => x !== node);
    if (node.parent) node.parent.children = node.parent.children.filter((x) => x !== node);
  }

  /** Deletes, bottom-up, every node above depth `depth` that has no children. */
  private prune(depth: number): void {
    const levels = this.levels;
    if (!levels) return;
    for (let d = depth - 1; d >= 0; d--) {
      for (const node of [...(levels[d] ?? [])]) if (node.children.length === 0) this.remove(node);
    }
    if ((levels[0] ?? []).length === 0) this.levels = undefined;
  }

  /** 6.1.3 (d)-(f) for certificate number i (1-based). Returns false when (f) fails. */
  processCert(i: number, cert: ParsedCert): boolean {
    if (this.levels && cert.policies) {
      const prev = this.levels[i - 1] ?? [];
      let anyQualified = false;
      for (const p of cert.policies) {
        if (p.oid === ANY_POLICY) {
          anyQualified = true;
          continue;
        }
        const matches = prev.filter((node) => node.expected.has(p.oid));
        if (matches.length > 0) for (const node of matches) this.addChild(node, p.oid, new Set([p.oid]));
        else
          for (const node of prev.filter((x) => x.validPolicy === ANY_POLICY))
            this.addChild(node, p.oid, new Set([p.oid]));
      }
      if (anyQualified && (this.inhibitAnyPolicy > 0 || (i < this.n && cert.selfIssued))) {
        for (const node of prev) {
          for (const e of node.expected) {
            if (!node.children.some((c) => c.validPolicy === e)) this.addChild(node, e, new Set([e]));
          }
        }
      }
      this.prune(i);
      if (this.levels && (this.levels[i] ?? []).length === 0) this.levels = undefined;
    } else if (!cert.policies) {
      this.levels = undefined;
    }
    return this.explicitPolicy > 0 || this.levels !== undefined;
  }

  /** 6.1.4 (a)-(b) and (h)-(j) after certificate i (i < n). Returns a reason string when (a) fails. */
  prepareNext(i: number, cert: ParsedCert): string | undefined {
    if (cert.policyMappings) {
      for (const [a, b] of cert.policyMappings) {
        if (a === ANY_POLICY || b === ANY_POLICY) return "maps to or from anyPolicy";
      }
      const byIssuer = new Map<string, Set<string>>();
      for (const [a, b] of cert.policyMappings) {
        if (!byIssuer.has(a)) byIssuer.set(a, new Set());
        byIssuer.get(a)?.add(b);
      }
      for (const [idp, subjects] of byIssuer) {
        if (!this.levels) break;
        const lvl = this.levels[i] ?? [];
        if (this.policyMapping > 0) {
          const hits = lvl.filter((x) => x.validPolicy === idp);
          if (hits.length > 0) for (const h of hits) h.expected = new Set(subjects);
          else {
            const any = lvl.find((x) => x.validPolicy === ANY_POLICY);
            if (any?.parent) this.addChild(any.parent, idp, new Set(subjects));
          }
        } else {
          for (const h of lvl.filter((x) => x.validPolicy === idp)) this.remove(h);
          this.prune(i);
        }
      }
    }
    if (!cert.selfIssued) {
      if (this.explicitPolicy > 0) this.explicitPolicy--;
      if (this.policyMapping > 0) this.policyMapping--;
      if (this.inhibitAnyPolicy > 0) this.inhibitAnyPolicy--;
    }
    const pcs = cert.policyConstraints;
    if (pcs?.requireExplicitPolicy !== undefined)
      this.explicitPolicy = Math.min(this.explicitPolicy, pcs.requireExplicitPolicy);
    if (pcs?.inhibitPolicyMapping !== undefined)
      this.policyMapping = Math.min(this.policyMapping, pcs.inhibitPolicyMapping);
    if (cert.inhibitAnyPolicy !== undefined)
      this.inhibitAnyPolicy = Math.min(this.inhibitAnyPolicy, cert.inhibitAnyPolicy);
    return undefined;
  }

  /**
   * 6.1.5 (a), (b), (g). Returns the user-constrained policy set, or undefined when the path fails policy
   * processing (explicit policy required and no acceptable policy remains).
   */
  wrapUp(last: ParsedCert): { userConstrainedPolicySet: string[] } | undefined {
    if (this.explicitPolicy > 0) this.explicitPolicy--;
    if (last.policyConstraints?.requireExplicitPolicy === 0) this.explicitPolicy = 0;
    const n = this.n;
    if (this.levels && !this.initial.has(ANY_POLICY)) {
      const all = this.levels.flat();
      const nodeSet = all.filter((x) => x.parent?.validPolicy === ANY_POLICY);
      for (const node of nodeSet) {
        if (!this.initial.has(node.validPolicy) && node.validPolicy !== ANY_POLICY) this.remove(node);
      }
      const leafAny = (this.levels[n] ?? []).find((x) => x.validPolicy === ANY_POLICY);
      if (leafAny?.parent) {
        const present = new Set(nodeSet.filter((x) => this.levels?.[x.depth]?.includes(x)).map((x) => x.validPolicy));
        for (const p of this.initial) if (!present.has(p)) this.addChild(leafAny.parent, p, new Set([p]));
        this.remove(leafAny);
      }
      this.prune(n);
    }
    if (this.levels && (this.levels[n] ?? []).length === 0) this.levels = undefined;
    if (this.explicitPolicy === 0 && this.levels === undefined) return undefined;
    // Expressed in the trust anchor's policy domain: for each surviving leaf, the policy of its highest ancestor
    // below anyPolicy nodes (the valid_policy_node_set of 6.1.5 (g)); an all-anyPolicy branch stands for the
    // whole user-initial-policy-set.
    const set: string[] = [];
    for (const leaf of this.levels ? (this.levels[n] ?? []) : []) {
      let node: PolicyNode = leaf;
      while (node.parent && node.parent.validPolicy !== ANY_POLICY) node = node.parent;
      if (node.validPolicy === ANY_POLICY) set.push(...this.initial);
      else if (this.initial.has(ANY_POLICY) || this.initial.has(node.validPolicy)) set.push(node.validPolicy);
    }
    return { userConstrainedPolicySet: [...new Set(set)].sort() };
  }
}
