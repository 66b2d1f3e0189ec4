import Crypto
import SystemPackage
import TradeSyncClock

#if canImport(Glibc)
import Glibc
#endif

/// The node's key pair (Ed25519), made at first start and kept in `DATA_DIR/node.key`
/// (mode 0600, the 32-byte private key). The node ID is SHA-256 of the public key.
public struct NodeIdentity: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey
    public let nodeID: NodeID

    /// The key file's name inside the data directory.
    public static let fileName = "node.key"

    /// Why the identity could not be loaded or made.
    public struct IdentityError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        let digest = SHA256.hash(data: privateKey.publicKey.rawRepresentation)
        nodeID = NodeID(bytes: Array(digest)) ?? .zero
    }

    /// Loads the key from `directory`, or makes and stores a new one (0600, fsynced).
    /// - Throws: ``IdentityError`` naming the file when it is unreadable or malformed.
    public static func loadOrCreate(directory: String) throws(IdentityError) -> NodeIdentity {
        let path = directory + "/" + fileName
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly)
            defer { try? fd.close() }
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
            guard count == 32 else { throw IdentityError(path: path, reason: "expected a 32-byte Ed25519 key, found \(count) bytes") }
            do {
                return NodeIdentity(privateKey: try Curve25519.Signing.PrivateKey(rawRepresentation: buffer[0..<32]))
            } catch { throw IdentityError(path: path, reason: "invalid key: \(error)") }
        } catch let error as IdentityError {
            throw error
        } catch Errno.noSuchFileOrDirectory {
            return try create(path: path)
        } catch {
            throw IdentityError(path: path, reason: "\(error)")
        }
    }

    /// Writes a new key atomically: `node.key.tmp` (0600, fsynced), renamed over
    /// `node.key`, then the directory fsynced, so a crash (SIGKILL, power loss) never
    /// leaves an empty or partial key that no later start would accept.
    private static func create(path: String) throws(IdentityError) -> NodeIdentity {
        let key = Curve25519.Signing.PrivateKey()
        let temporary = path + ".tmp"
        do {
            let fd = try FileDescriptor.open(
                FilePath(temporary), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
            defer { try? fd.close() }
            _ = try fd.writeAll(key.rawRepresentation)
            guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            throw IdentityError(path: temporary, reason: "cannot write node key: \(error)")
        }
        guard rename(temporary, path) == 0 else {
            throw IdentityError(path: path, reason: "cannot rename \(temporary) into place: \(Errno(rawValue: errno))")
        }
        let directory = FilePath(path).removingLastComponent()
        if let fd = try? FileDescriptor.open(directory.isEmpty ? "." : directory, .readOnly, options: [.directory]) {
            _ = fsync(fd.rawValue)
            try? fd.close()
        }
        return NodeIdentity(privateKey: key)
    }
}
