/**
 * The extras flow state (`Residual` in extras.ts) as its steps see it: the network's capacities, the units
 * placed so far and the good pairs. Dinic (dinic.ts) and the shortest-path phases (paths.ts) each take the
 * part they need, so neither imports extras.ts back.
 */
export interface FlowState {
  readonly W: number;
  readonly need: ArrayLike<number>;
  /** lo_w: the capacity of w → t. */
  readonly regCap: Int32Array;
  /** hi_w − lo_w: the capacity of w → h. */
  readonly hubCap: Int32Array;
  /** R − Σ lo: the capacity of h → t. */
  readonly hubTotal: number;
  /** Units of g placed so far. */
  readonly fill: Int32Array;
  /** Units of w on its regular slots (edge w → t). */
  readonly reg: Int32Array;
  /** Units of w on its optional slots (edge w → h). */
  readonly hub: Int32Array;
  /** Good pairs, flattened: group g's are goodW[goodOff[g] .. goodOff[g+1]). */
  readonly goodOff: Int32Array;
  readonly goodW: Int32Array;
  /** Units through h → t. */
  hubUsed: number;
  missing: number;
}
