// The compiler-checked list of option keys each options parser accepts.

/** Every key of `T`, optional ones included: adding an option without listing it fails to compile. */
export type KeysEnum<T> = { [P in keyof Required<T>]: true };
