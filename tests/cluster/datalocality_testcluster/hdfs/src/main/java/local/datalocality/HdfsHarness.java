package local.datalocality;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.StringJoiner;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.BlockLocation;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.DFSConfigKeys;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.hdfs.server.datanode.DataNode;
import org.apache.hadoop.security.UserGroupInformation;

/**
 * A real HDFS for datalocality's tests: a MiniDFSCluster (one NameNode with WebHDFS, N
 * DataNodes with their own host names on racks) driven by line commands on stdin.
 *
 * <p>Args: base directory, block size in bytes, replication, then one host=rack per DataNode.
 * Prints one {@code READY <json>} line when the cluster is up; then each command gets one
 * {@code OK <json>} or {@code ERR <message>} line:
 *
 * <ul>
 *   <li>{@code LOCATIONS <path>}: the file's blocks as the NameNode reports them over RPC
 *       (offset, length, hosts), independently of WebHDFS;
 *   <li>{@code WRITE <path> <bytes> <host,host,...>}: writes that many random bytes with
 *       those DataNodes as favoured nodes, so the test knows where every block's copies are;
 *   <li>{@code STOP <host>}: stops that DataNode and has the NameNode declare it dead now
 *       (instead of after the heartbeat expiry), so its blocks are re-replicated;
 *   <li>{@code EXIT}: shuts the cluster down.
 * </ul>
 */
public final class HdfsHarness {
  private HdfsHarness() {}

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    int count = args.length - 3;
    String[] hosts = new String[count];
    String[] racks = new String[count];
    for (int i = 0; i < count; i++) {
      String[] pair = args[3 + i].split("=", 2);
      hosts[i] = pair[0];
      racks[i] = pair[1];
    }
    Configuration conf = new HdfsConfiguration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, args[0]);
    conf.setLong(DFSConfigKeys.DFS_BLOCK_SIZE_KEY, Long.parseLong(args[1]));
    conf.setLong(DFSConfigKeys.DFS_NAMENODE_MIN_BLOCK_SIZE_KEY, 0);
    conf.setInt(DFSConfigKeys.DFS_REPLICATION_KEY, Integer.parseInt(args[2]));
    conf.set(DFSConfigKeys.DFS_NAMENODE_HTTP_ADDRESS_KEY, "127.0.0.1:0");
    // re-replication within seconds of a DataNode stopping
    conf.setLong(DFSConfigKeys.DFS_HEARTBEAT_INTERVAL_KEY, 1);
    conf.setInt(DFSConfigKeys.DFS_NAMENODE_REDUNDANCY_INTERVAL_SECONDS_KEY, 1);
    // the NameNode issues delegation tokens with security off (Kerberos cannot run here)
    conf.setBoolean(DFSConfigKeys.DFS_NAMENODE_DELEGATION_TOKEN_ALWAYS_USE_KEY, true);
    MiniDFSCluster cluster =
        new MiniDFSCluster.Builder(conf)
            .numDataNodes(count)
            .racks(racks)
            .hosts(hosts)
            .build();
    try {
      cluster.waitActive();
      DistributedFileSystem fs = cluster.getFileSystem();
      StringJoiner nodes = new StringJoiner(",", "[", "]");
      for (DataNode dn : cluster.getDataNodes()) {
        nodes.add(
            "{\"host\":" + quote(dn.getDatanodeId().getHostName())
                + ",\"infoPort\":" + dn.getInfoPort()
                + ",\"xferAddr\":" + quote(dn.getDatanodeId().getXferAddr()) + "}");
      }
      out.println(
          "READY {\"httpPort\":" + cluster.getNameNode().getHttpAddress().getPort()
              + ",\"rpcPort\":" + cluster.getNameNodePort()
              + ",\"superuser\":" + quote(UserGroupInformation.getCurrentUser().getShortUserName())
              + ",\"datanodes\":" + nodes + "}");
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null && !line.equals("EXIT")) {
        String[] command = line.split(" ", 2);
        try {
          switch (command[0]) {
            case "LOCATIONS" -> out.println("OK " + locations(fs, new Path(command[1])));
            case "WRITE" -> out.println("OK " + write(cluster, fs, command[1]));
            case "STOP" -> out.println("OK " + stop(cluster, command[1]));
            default -> out.println("ERR unknown command " + command[0]);
          }
        } catch (Exception e) {
          out.println("ERR " + e.toString().replace('\n', ' '));
        }
      }
    } finally {
      cluster.shutdown();
    }
  }

  private static String locations(DistributedFileSystem fs, Path path) throws Exception {
    FileStatus status = fs.getFileStatus(path);
    StringJoiner blocks = new StringJoiner(",", "[", "]");
    for (BlockLocation block : fs.getFileBlockLocations(status, 0, status.getLen())) {
      StringJoiner hosts = new StringJoiner(",", "[", "]");
      for (String host : block.getHosts()) {
        hosts.add(quote(host));
      }
      blocks.add(
          "{\"offset\":" + block.getOffset() + ",\"length\":" + block.getLength()
              + ",\"hosts\":" + hosts + "}");
    }
    return "{\"blocks\":" + blocks + "}";
  }

  private static String write(MiniDFSCluster cluster, DistributedFileSystem fs, String args)
      throws Exception {
    String[] parts = args.split(" ");
    Path path = new Path(parts[0]);
    long size = Long.parseLong(parts[1]);
    List<InetSocketAddress> favoured = new ArrayList<>();
    for (String host : parts[2].split(",")) {
      favoured.add(datanode(cluster, host).getXferAddress());
    }
    long blockSize = fs.getDefaultBlockSize(path);
    short replication = fs.getDefaultReplication(path);
    byte[] buffer = new byte[1 << 16];
    Random random = new Random(size);
    try (FSDataOutputStream stream =
        fs.create(
            path,
            FsPermission.getFileDefault(),
            true,
            buffer.length,
            replication,
            blockSize,
            null,
            favoured.toArray(new InetSocketAddress[0]))) {
      for (long left = size; left > 0; left -= buffer.length) {
        random.nextBytes(buffer);
        stream.write(buffer, 0, (int) Math.min(left, buffer.length));
      }
    }
    return locations(fs, path);
  }

  private static DataNode datanode(MiniDFSCluster cluster, String host) {
    for (DataNode dn : cluster.getDataNodes()) {
      if (dn.getDatanodeId().getHostName().equals(host)) {
        return dn;
      }
    }
    throw new IllegalArgumentException("no running datanode " + host);
  }

  private static String stop(MiniDFSCluster cluster, String host) throws Exception {
    var id = datanode(cluster, host).getDatanodeId();
    cluster.stopDataNode(id.getXferAddr());
    cluster.setDataNodeDead(id);
    return "{\"stopped\":" + quote(host) + "}";
  }

  private static String quote(String text) {
    StringBuilder json = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      if (c == '"' || c == '\\') {
        json.append('\\').append(c);
      } else if (c < 0x20) {
        json.append(String.format("\\u%04x", (int) c));
      } else {
        json.append(c);
      }
    }
    return json.append('"').toString();
  }
}
